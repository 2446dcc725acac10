package output

import (
	"strconv"

	"github.com/droptrace/droptrace/event"
)

// appendNetfilterText appends the firewall rule of a NETFILTER_DROP, e.g.
// ` REJECT tcp-reset filter/INPUT #3 "-A INPUT -p tcp -m tcp --dport 8443
// -j REJECT --reject-with tcp-reset" (counter)`; nothing when the drop
// was not attributed. q, when not nil, keeps the last rule's quoted text.
func appendNetfilterText(b []byte, nf *event.Netfilter, q *ruleQuote) []byte {
	if nf == nil {
		return b
	}
	b = append(b, ' ')
	if len(nf.Candidates) > 0 {
		b = append(b, "candidates: "...)
		for i := range nf.Candidates {
			if i > 0 {
				b = append(b, "; "...)
			}
			b = appendNetfilterVerdict(b, &nf.Candidates[i], q)
		}
	} else {
		v := event.NetfilterVerdict{Table: nf.Table, Chain: nf.Chain, Verdict: nf.Verdict,
			RejectWith: nf.RejectWith, Rule: nf.Rule, Policy: nf.Policy}
		b = appendNetfilterVerdict(b, &v, q)
	}
	b = append(b, " ("...)
	b = append(b, nf.Certainty...)
	return append(b, ')')
}

// appendNetfilterVerdict appends `DROP filter/INPUT #2 "rule text"`, or
// `DROP filter policy of chain FORWARD`.
func appendNetfilterVerdict(b []byte, v *event.NetfilterVerdict, q *ruleQuote) []byte {
	b = append(b, v.Verdict...)
	if v.RejectWith != "" {
		b = append(b, ' ')
		b = append(b, v.RejectWith...)
	}
	b = append(b, ' ')
	b = append(b, v.Table...)
	if v.Policy || v.Rule == nil {
		b = append(b, " policy of chain "...)
		return append(b, v.Chain...)
	}
	b = append(b, '/')
	b = append(b, v.Chain...)
	b = append(b, " #"...)
	b = strconv.AppendInt(b, int64(v.Rule.Position), 10)
	b = append(b, ' ')
	return q.append(b, v.Rule.Text)
}

// ruleQuote keeps the last rule text quoted: a storm's drops are nearly
// all one rule's, and quoting its text costs more than the rest of the
// line.
type ruleQuote struct {
	text   string
	quoted []byte
}

// append appends text quoted as strconv.Quote does; a nil q quotes it
// each time.
func (q *ruleQuote) append(b []byte, text string) []byte {
	if q == nil {
		return strconv.AppendQuote(b, text)
	}
	// Equal strings are usually one string, which == finds at once.
	if text != q.text || q.quoted == nil {
		q.text, q.quoted = text, strconv.AppendQuote(q.quoted[:0], text)
	}
	return append(b, q.quoted...)
}

// netfilterComment is the pcapng comment's field for the rule: the text
// line's suffix, after "netfilter=".
func netfilterComment(nf *event.Netfilter) string {
	if nf == nil {
		return ""
	}
	return string(appendNetfilterText(nil, nf, nil)[1:])
}

// appendRuleLine appends the indented line naming a summary row's rule,
// e.g. `    rule: DROP filter/INPUT #3 "-A INPUT ..." (counter)`; nothing
// for a row that is not one rule's share.
func appendRuleLine(b []byte, nf *event.Netfilter) []byte {
	if nf == nil {
		return b
	}
	b = append(b, explainIndent...)
	b = append(b, "rule:"...)
	b = appendNetfilterText(b, nf, nil)
	return append(b, '\n')
}
