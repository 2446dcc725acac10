package pcapfilter

// relOps are the comparison operators of a relation.
var relOps = map[string]bool{"=": true, "==": true, "!=": true, ">": true, ">=": true, "<": true, "<=": true}

// arithLevels are the binary operators from the loosest to the tightest
// binding, as in libpcap's grammar.
var arithLevels = [][]string{{"|", "^"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"}}

func (p *parser) parseRelation() (node, *Error) {
	l, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tokOp || !relOps[t.text] {
		return nil, p.errorf(t, "expected a comparison (==, !=, <, <=, >, >=)")
	}
	p.next()
	r, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	return relNode{t.text, l, r}, nil
}

func (p *parser) parseArith(level int) (arith, *Error) {
	if level == len(arithLevels) {
		return p.parseAtom()
	}
	l, err := p.parseArith(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokOp || !p.is(t, arithLevels[level]...) {
			return l, nil
		}
		p.next()
		r, err := p.parseArith(level + 1)
		if err != nil {
			return nil, err
		}
		if l, err = p.fold(t, l, r); err != nil {
			return nil, err
		}
	}
}

// fold combines two constants at compile time, as libpcap does, which also
// turns a constant division by zero into an error.
func (p *parser) fold(op token, l, r arith) (arith, *Error) {
	rn, rConst := r.(numArith)
	if rConst && rn.v == 0 && (op.text == "/" || op.text == "%") {
		return nil, p.errorf(op, "division by zero")
	}
	ln, lConst := l.(numArith)
	if !lConst || !rConst {
		return binArith{op.text, l, r}, nil
	}
	return numArith{evalOp(op.text, ln.v, rn.v)}, nil
}

func evalOp(op string, a, b uint32) uint32 {
	switch op {
	case "|":
		return a | b
	case "^":
		return a ^ b
	case "&":
		return a & b
	case "<<":
		return a << (b & 31)
	case ">>":
		return a >> (b & 31)
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/":
		return a / b
	}
	return a % b
}

func (p *parser) parseAtom() (arith, *Error) {
	t := p.next()
	switch {
	case p.is(t, "("):
		a, err := p.parseArith(0)
		if err != nil {
			return nil, err
		}
		if c := p.next(); !p.is(c, ")") {
			return nil, p.errorf(c, "expected \")\"")
		}
		return a, nil
	case t.kind != tokWord:
		return nil, p.errorf(t, "expected a number, len or proto[offset]")
	case t.text == "len":
		return lenArith{}, nil
	case p.is(p.peek(), "["):
		return p.parseLoad(t)
	}
	if v, ok := parseNumber(t.text); ok {
		return numArith{v}, nil
	}
	if v, ok := namedConsts[t.text]; ok {
		return numArith{v}, nil
	}
	return nil, p.errorf(t, "expected a number, len or proto[offset], not %q", t.text)
}

// parseLoad reads proto[idx] or proto[idx:size].
func (p *parser) parseLoad(proto token) (arith, *Error) {
	p.next()
	idx, err := p.parseArith(0)
	if err != nil {
		return nil, err
	}
	size := 1
	if p.is(p.peek(), ":") {
		p.next()
		st := p.next()
		switch st.text {
		case "1", "2", "4":
			size = int(st.text[0] - '0')
		default:
			return nil, p.errorf(st, "load size must be 1, 2 or 4")
		}
	}
	if c := p.next(); !p.is(c, "]") {
		return nil, p.errorf(c, "expected \"]\"")
	}
	return p.loadFor(proto, idx, size)
}

func (p *parser) loadFor(proto token, idx arith, size int) (arith, *Error) {
	l := loadArith{layer: layerNetwork, base: p.nh, idx: idx, size: size}
	switch proto.text {
	case "ether":
		if p.link != Ethernet {
			return nil, p.errorf(proto, "ether[] needs the link-layer header, which raw IP data lacks")
		}
		l.layer, l.base = layerLink, 0
	case "ip":
		l.guard = l3Node{l3IPv4, p.nh}
	case "ip6":
		l.guard = l3Node{l3IPv6, p.nh}
	case "arp", "rarp":
		n, err := p.arpNode(qualifiers{proto: proto.text, protoPos: proto.pos})
		if err != nil {
			return nil, err
		}
		l.guard = n
	case "tcp", "udp", "sctp", "icmp", "igmp":
		l.layer = layerTransport
		l.guard = andNode{ipProtoNode{fam: famV4, proto: abbrevs[proto.text].proto, nh: p.nh}, firstFragNode{p.nh}}
	case "icmp6":
		l.base = p.nh + 40
		l.guard = ipProtoNode{fam: famV6, proto: protoICMPv6, nh: p.nh, direct: true}
	default:
		return nil, p.errorf(proto, "%q cannot be indexed", proto.text)
	}
	return l, nil
}
