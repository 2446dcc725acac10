package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/droptrace/droptrace/event"
)

const summaryFormat = "%10s %12s %-20s %-36s %-10s %-15s %s\n"

type summaryText struct{ w io.Writer }

// NewSummaryText returns a SummaryWriter that prints aligned tables for a
// human: a title line with the time and the drops, then a line per key.
func NewSummaryText(w io.Writer) event.SummaryWriter { return summaryText{w: w} }

func (s summaryText) WriteInterval(at time.Time, rows []event.SummaryRow) error {
	title := fmt.Sprintf("%s  %d new drops\n", at.Local().Format("15:04:05"), sumCounts(rows))
	return s.table(title, rows)
}

func (s summaryText) WriteTotals(at time.Time, elapsed time.Duration, rows []event.SummaryRow) error {
	title := fmt.Sprintf("TOTAL  %d drops in %s\n", sumCounts(rows), elapsed.Round(time.Millisecond))
	return s.table(title, rows)
}

func (s summaryText) table(title string, rows []event.SummaryRow) error {
	buf := []byte(title)
	if len(rows) > 0 {
		buf = fmt.Appendf(buf, summaryFormat, "COUNT", "RATE/s", "REASON", "LOCATION", "NETNS", "IFACE", "PROTO")
	}
	for _, r := range rows {
		buf = fmt.Appendf(buf, summaryFormat,
			strconv.FormatUint(r.Count, 10),
			strconv.FormatFloat(r.Rate, 'f', 1, 64),
			orDash(event.ReasonText(r.Key.Reason, r.Key.ReasonCode)),
			orDash(r.Key.Location),
			orDash(summaryNetns(r)),
			orDash(r.Key.Ifname),
			orDash(r.Key.Proto))
		buf = appendExplainLine(buf, r.Explain)
		buf = appendRuleLine(buf, r.Netfilter)
	}
	buf = append(buf, '\n')
	if _, err := s.w.Write(buf); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	return nil
}

func sumCounts(rows []event.SummaryRow) uint64 {
	var n uint64
	for _, r := range rows {
		n += r.Count
	}
	return n
}

// jsonSummary is the JSON lines schema of --summary: kind "summary" per
// key per interval, "summary_total" per key at exit. Key fields are named
// as in drop events.
type jsonSummary struct {
	Time       string  `json:"time"`
	Kind       string  `json:"kind"`
	Count      uint64  `json:"count"`
	Total      uint64  `json:"total"`
	Rate       float64 `json:"rate"`
	Reason     string  `json:"reason"`
	ReasonCode uint32  `json:"reason_code"`
	Location   string  `json:"location"`
	Netns      uint32  `json:"netns"`
	Ifindex    uint32  `json:"ifindex"`
	Ifname     string  `json:"ifname"`
	Proto      string  `json:"proto"`
	// Names of the network namespace, as in drop events.
	NetnsName    string `json:"netns_name"`
	Pod          string `json:"pod"`
	PodNamespace string `json:"pod_namespace"`
	Container    string `json:"container"`
	// The key's cause and fix, with --explain.
	Explain *jsonExplain `json:"explain,omitempty"`
	// The rule whose share of the key's NETFILTER_DROPs the row counts.
	Netfilter *event.Netfilter `json:"netfilter,omitempty"`
}

type summaryJSON struct{ enc *json.Encoder }

// NewSummaryJSON returns a SummaryWriter that writes one JSON object per
// key: kind "summary" each interval, "summary_total" at exit.
func NewSummaryJSON(w io.Writer) event.SummaryWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return summaryJSON{enc: enc}
}

func (s summaryJSON) WriteInterval(at time.Time, rows []event.SummaryRow) error {
	return s.write(at, "summary", rows)
}

func (s summaryJSON) WriteTotals(at time.Time, _ time.Duration, rows []event.SummaryRow) error {
	return s.write(at, "summary_total", rows)
}

func (s summaryJSON) write(at time.Time, kind string, rows []event.SummaryRow) error {
	ts := at.Format(time.RFC3339Nano)
	for _, r := range rows {
		if err := s.enc.Encode(newJSONSummary(ts, kind, r)); err != nil {
			return fmt.Errorf("writing json summary: %w", err)
		}
	}
	return nil
}

func newJSONSummary(ts, kind string, r event.SummaryRow) jsonSummary {
	k := r.Key
	j := jsonSummary{
		Time: ts, Kind: kind, Count: r.Count, Total: r.Total, Rate: r.Rate,
		Reason: k.Reason, ReasonCode: k.ReasonCode, Location: k.Location,
		Netns: k.Netns, Ifindex: k.Ifindex, Ifname: k.Ifname, Proto: k.Proto,
	}
	if p := r.Pod; p != nil {
		j.NetnsName, j.Pod, j.PodNamespace, j.Container = p.NetnsName, p.Name, p.Namespace, p.Container
	}
	j.Explain = newJSONExplain(r.Explain)
	j.Netfilter = r.Netfilter
	return j
}

// summaryNetns is the NETNS column of a row: its name when known, as in
// the text lines of events.
func summaryNetns(r event.SummaryRow) string {
	if name := podText(r.Pod); name != "" {
		return name
	}
	return netnsText(r.Key.Netns)
}
