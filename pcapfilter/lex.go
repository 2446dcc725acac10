package pcapfilter

import "strings"

// tokKind classifies a token; words cover keywords, numbers, addresses and
// named constants, which the parser tells apart by context.
type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokOp // punctuation and operators: ( ) [ ] : ! && || + - * / % & | ^ << >> = == != < <= > >=
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the expression
}

// operators lists the punctuation tokens, longest first so "<=" wins over "<".
var operators = []string{
	"&&", "||", "<<", ">>", "<=", ">=", "==", "!=",
	"(", ")", "[", "]", ":", "!", "+", "-", "*", "/", "%", "&", "|", "^", "=", "<", ">",
}

// lex splits expr into tokens. A word runs over letters, digits and
// "_.:/-" so that addresses (fe80::1, 10.0.0.0/8), ranges (8000-8100) and
// names (tcp-syn) stay whole; inside brackets ':' ends a word because it
// separates offset and size (tcp[13:1]).
func lex(expr string) ([]token, *Error) {
	var toks []token
	depth := 0
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isWordStart(c) || c == ':' && depth == 0 && strings.HasPrefix(expr[i:], "::"):
			j := i + 1
			for j < len(expr) && isWordByte(expr[j]) && !(depth > 0 && expr[j] == ':') {
				j++
			}
			toks = append(toks, token{tokWord, expr[i:j], i})
			i = j
		default:
			op := matchOperator(expr[i:])
			if op == "" {
				return nil, errorAt(expr, i, "unexpected character %q", c)
			}
			depth += bracketDelta(op)
			toks = append(toks, token{tokOp, op, i})
			i += len(op)
		}
	}
	return append(toks, token{tokEOF, "", len(expr)}), nil
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '\\'
}

func isWordByte(c byte) bool {
	return isWordStart(c) || c == '.' || c == ':' || c == '/' || c == '-'
}

func matchOperator(s string) string {
	for _, op := range operators {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return ""
}

func bracketDelta(op string) int {
	switch op {
	case "[":
		return 1
	case "]":
		return -1
	}
	return 0
}
