package pcapfilter

import (
	"strconv"
)

// parser is a recursive-descent parser for pcap-filter expressions. and/or
// have equal precedence and associate to the left, not binds tighter, as
// in pcap-filter(7). Offsets move forward past each "vlan" in the order the
// expression is read, as libpcap does.
type parser struct {
	expr string
	toks []token
	i    int
	link Link
	nh   int         // offset of the network header for what is parsed next
	last *qualifiers // qualifiers a bare address or port inherits
}

// qualifiers are the words before an address or port: "tcp src port".
type qualifiers struct {
	proto    string
	protoPos int
	dir      direction
	kind     string
}

func parse(expr string, link Link) (node, *Error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{expr: expr, toks: toks, link: link, nh: link.networkOffset()}
	if p.peek().kind == tokEOF {
		return nil, p.errorf(p.peek(), "empty expression")
	}
	n, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t)
	}
	return n, nil
}

// unexpected reports a token where and, or or the end was due; an
// unsupported keyword says so ("ip protochain 6").
func (p *parser) unexpected(t token) *Error {
	if msg, ok := unsupported[t.text]; ok {
		return p.errorf(t, "%s", msg)
	}
	return p.errorf(t, "unexpected %q, expected and, or or the end", t.text)
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(k int) token {
	return p.toks[min(p.i+k, len(p.toks)-1)]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) *Error {
	return errorAt(p.expr, t.pos, format, args...)
}

func (p *parser) is(t token, texts ...string) bool {
	for _, s := range texts {
		if t.kind != tokEOF && t.text == s {
			return true
		}
	}
	return false
}

func (p *parser) parseExpr() (node, *Error) {
	n, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !p.is(t, "and", "&&", "or", "||") {
			return n, nil
		}
		p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if t.text == "and" || t.text == "&&" {
			n = andNode{n, r}
		} else {
			n = orNode{n, r}
		}
	}
}

func (p *parser) parseUnary() (node, *Error) {
	if p.is(p.peek(), "not", "!") {
		p.next()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.parsePrimary()
}

// parsePrimary tells a relation ("tcp[13] & 2 != 0", "(len - 14) > 100")
// from a primitive or a parenthesised expression by trying the relation
// first and going back when it does not parse; the error that got further
// is the one reported.
func (p *parser) parsePrimary() (node, *Error) {
	t := p.peek()
	if t.kind == tokEOF || p.is(t, ")", "and", "&&", "or", "||") {
		return nil, p.errorf(t, "expected a primitive")
	}
	if !p.is(t, "(") && !p.looksArith(t) {
		return p.parsePrimitive()
	}
	start, nh, last := p.i, p.nh, p.last
	rel, relErr := p.parseRelation()
	if relErr == nil {
		return rel, nil
	}
	if _, num := parseNumber(t.text); !p.is(t, "(") && !num {
		return nil, relErr
	}
	p.i, p.nh, p.last = start, nh, last
	var n node
	var err *Error
	if p.is(t, "(") {
		n, err = p.parseParen()
	} else {
		n, err = p.parsePrimitive()
	}
	if err != nil && relErr.Pos >= err.Pos {
		return nil, relErr
	}
	return n, err
}

func (p *parser) parseParen() (node, *Error) {
	p.next()
	n, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); !p.is(t, ")") {
		if t.kind == tokEOF {
			return nil, p.errorf(t, "expected \")\"")
		}
		return nil, p.unexpected(t)
	}
	p.next()
	return n, nil
}

// looksArith reports whether t can start an arithmetic expression.
func (p *parser) looksArith(t token) bool {
	if t.kind != tokWord {
		return false
	}
	if _, ok := parseNumber(t.text); ok || t.text == "len" {
		return true
	}
	if _, ok := namedConsts[t.text]; ok {
		return true
	}
	return p.is(p.peekAt(1), "[")
}

func parseNumber(s string) (uint32, bool) {
	v, err := strconv.ParseUint(s, 0, 32)
	return uint32(v), err == nil
}
