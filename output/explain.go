package output

import (
	"strconv"
	"strings"

	"github.com/droptrace/droptrace/event"
)

// jsonExplain is the explain object of the JSON schema. Evidence is an
// array of {"key", "value"} objects, in the explainer's order, which jq's
// from_entries turns into an object.
type jsonExplain struct {
	Cause    string         `json:"cause"`
	Evidence []jsonEvidence `json:"evidence"`
	Fix      string         `json:"fix"`
	Doc      string         `json:"doc"`
}

type jsonEvidence struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func newJSONExplain(x *event.Explain) *jsonExplain {
	if x == nil {
		return nil
	}
	j := &jsonExplain{Cause: x.Cause, Fix: x.Fix, Doc: x.Doc, Evidence: make([]jsonEvidence, len(x.Evidence))}
	for i, e := range x.Evidence {
		j.Evidence[i] = jsonEvidence(e)
	}
	return j
}

// explainIndent starts the second line of an explained event, under the
// NETNS column.
const explainIndent = "                "

// appendExplainLine appends the indented second line of an explained
// event, e.g. "    cause: ...; rcvbuf=4608 rmem_max=212992; fix: ... (doc)";
// nothing when the event has no explanation.
func appendExplainLine(b []byte, x *event.Explain) []byte {
	if x == nil {
		return b
	}
	b = append(b, explainIndent...)
	b = appendExplain(b, x)
	return append(b, '\n')
}

// appendExplain appends the explanation on one line: the cause, the
// evidence as key=value (values with spaces quoted), the fix and the link.
func appendExplain(b []byte, x *event.Explain) []byte {
	b = append(b, "cause: "...)
	b = append(b, x.Cause...)
	for i, e := range x.Evidence {
		if i == 0 {
			b = append(b, ';')
		}
		b = append(b, ' ')
		b = append(b, e.Key...)
		b = append(b, '=')
		b = appendValue(b, e.Value)
	}
	if x.Fix != "" {
		b = append(b, "; fix: "...)
		b = append(b, x.Fix...)
	}
	if x.Doc != "" {
		b = append(b, " ("...)
		b = append(b, x.Doc...)
		b = append(b, ')')
	}
	return b
}

func appendValue(b []byte, v string) []byte {
	if v == "" || strings.ContainsAny(v, " \t\"=;") {
		return strconv.AppendQuote(b, v)
	}
	return append(b, v...)
}

// explainComment is the explanation as the pcapng comment carries it.
func explainComment(x *event.Explain) string {
	return string(appendExplain(nil, x))
}
