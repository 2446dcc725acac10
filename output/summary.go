package output

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// SummaryKey is what --summary counts drops by. Its fields mean what the
// same fields of Event mean.
type SummaryKey struct {
	Reason       string
	ReasonCode   uint32
	Location     string
	LocationAddr uint64
	Netns        uint32
	Ifindex      uint32
	Ifname       string
	Proto        string
}

// Counts is a snapshot of the kernel's summary: drops so far per key.
type Counts map[SummaryKey]uint64

// SummaryRow is one line of a summary: Count drops of Key in the period,
// Total since the start, and Count per second of the period.
type SummaryRow struct {
	Key   SummaryKey
	Count uint64
	Total uint64
	Rate  float64
}

// Interval returns the keys that had drops between the snapshots prev and
// cur, elapsed apart, busiest first.
func Interval(prev, cur Counts, elapsed time.Duration) []SummaryRow {
	var rows []SummaryRow
	for k, total := range cur {
		// A key can only grow; a smaller total means the key was recreated.
		n := total - min(prev[k], total)
		if n > 0 {
			rows = append(rows, SummaryRow{Key: k, Count: n, Total: total, Rate: perSecond(n, elapsed)})
		}
	}
	sortRows(rows)
	return rows
}

// Totals returns every key of cur with its drops over the whole run of
// length elapsed, busiest first.
func Totals(cur Counts, elapsed time.Duration) []SummaryRow {
	rows := make([]SummaryRow, 0, len(cur))
	for k, total := range cur {
		rows = append(rows, SummaryRow{Key: k, Count: total, Total: total, Rate: perSecond(total, elapsed)})
	}
	sortRows(rows)
	return rows
}

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// sortRows orders by count, then by key, so equal counts print stably.
func sortRows(rows []SummaryRow) {
	slices.SortFunc(rows, func(a, b SummaryRow) int {
		return cmp.Or(
			cmp.Compare(b.Count, a.Count),
			cmp.Compare(b.Total, a.Total),
			cmp.Compare(a.Key.Reason, b.Key.Reason),
			cmp.Compare(a.Key.ReasonCode, b.Key.ReasonCode),
			cmp.Compare(a.Key.Location, b.Key.Location),
			cmp.Compare(a.Key.LocationAddr, b.Key.LocationAddr),
			cmp.Compare(a.Key.Netns, b.Key.Netns),
			cmp.Compare(a.Key.Ifindex, b.Key.Ifindex),
			cmp.Compare(a.Key.Ifname, b.Key.Ifname),
			cmp.Compare(a.Key.Proto, b.Key.Proto),
		)
	})
}

// SummaryWriter prints summaries: one per interval, and the totals at exit.
type SummaryWriter interface {
	WriteInterval(at time.Time, rows []SummaryRow) error
	WriteTotals(at time.Time, elapsed time.Duration, rows []SummaryRow) error
}

const summaryFormat = "%10s %12s %-20s %-36s %-10s %-15s %s\n"

type summaryText struct{ w io.Writer }

// NewSummaryText returns a SummaryWriter that prints aligned tables for a
// human: a title line with the time and the drops, then a line per key.
func NewSummaryText(w io.Writer) SummaryWriter { return summaryText{w: w} }

func (s summaryText) WriteInterval(at time.Time, rows []SummaryRow) error {
	title := fmt.Sprintf("%s  %d new drops\n", at.Local().Format("15:04:05"), sumCounts(rows))
	return s.table(title, rows)
}

func (s summaryText) WriteTotals(at time.Time, elapsed time.Duration, rows []SummaryRow) error {
	title := fmt.Sprintf("TOTAL  %d drops in %s\n", sumCounts(rows), elapsed.Round(time.Millisecond))
	return s.table(title, rows)
}

func (s summaryText) table(title string, rows []SummaryRow) error {
	buf := []byte(title)
	if len(rows) > 0 {
		buf = fmt.Appendf(buf, summaryFormat, "COUNT", "RATE/s", "REASON", "LOCATION", "NETNS", "IFACE", "PROTO")
	}
	for _, r := range rows {
		buf = fmt.Appendf(buf, summaryFormat,
			strconv.FormatUint(r.Count, 10),
			strconv.FormatFloat(r.Rate, 'f', 1, 64),
			orDash(ReasonText(r.Key.Reason, r.Key.ReasonCode)),
			orDash(r.Key.Location),
			orDash(netnsText(r.Key.Netns)),
			orDash(r.Key.Ifname),
			orDash(r.Key.Proto))
	}
	buf = append(buf, '\n')
	if _, err := s.w.Write(buf); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	return nil
}

func sumCounts(rows []SummaryRow) uint64 {
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
}

type summaryJSON struct{ enc *json.Encoder }

// NewSummaryJSON returns a SummaryWriter that writes one JSON object per
// key: kind "summary" each interval, "summary_total" at exit.
func NewSummaryJSON(w io.Writer) SummaryWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return summaryJSON{enc: enc}
}

func (s summaryJSON) WriteInterval(at time.Time, rows []SummaryRow) error {
	return s.write(at, "summary", rows)
}

func (s summaryJSON) WriteTotals(at time.Time, _ time.Duration, rows []SummaryRow) error {
	return s.write(at, "summary_total", rows)
}

func (s summaryJSON) write(at time.Time, kind string, rows []SummaryRow) error {
	ts := at.Format(time.RFC3339Nano)
	for _, r := range rows {
		k := r.Key
		err := s.enc.Encode(jsonSummary{
			Time: ts, Kind: kind, Count: r.Count, Total: r.Total, Rate: r.Rate,
			Reason: k.Reason, ReasonCode: k.ReasonCode, Location: k.Location,
			Netns: k.Netns, Ifindex: k.Ifindex, Ifname: k.Ifname, Proto: k.Proto,
		})
		if err != nil {
			return fmt.Errorf("writing json summary: %w", err)
		}
	}
	return nil
}
