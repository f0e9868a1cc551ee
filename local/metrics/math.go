package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file is the local stack's CloudWatch metric math: the subset the
// definition uses (observability.Math), parsed from the same expression
// text the stack deploys, so the local alarms compute what the deployed
// ones do: numbers, part IDs, + - * /, parentheses, and FILL(m, value).
// Anything else is an error, so a definition that starts using another
// function fails its tests here until the evaluator learns it.

// Reading is one reading of CloudWatch's rules where AWS's documentation
// leaves the choice open (docs/observability.md, "Missing data"). The zero
// Reading is the strictest, the one the local stack runs by default: tests
// run every alarm under each of Readings() so that none passes only
// because the evaluator chose the kindest reading.
type Reading struct {
	// MissingPartIsZero takes "missing values in a time series are treated
	// as 0" (CloudWatch's metric-math page) for arithmetic: in a period
	// where one side of + - * / has a datapoint and the other has none,
	// the missing side counts as 0. Default: the expression has no
	// datapoint in that period (the reading docs/observability.md held).
	// Either way a period where neither side has one has none.
	MissingPartIsZero bool
	// MathFollowsTreatment makes an alarm whose expression reads an
	// AWS/DynamoDB metric treat missing data as its TreatMissingData says.
	// Default: it ignores missing data (keeps its state), as AWS documents
	// for alarms on AWS/DynamoDB metrics. An alarm on a single
	// AWS/DynamoDB metric ignores missing data in every reading.
	MathFollowsTreatment bool
}

// String names the reading, for a test's name.
func (r Reading) String() string {
	arith := "missing part: no value"
	if r.MissingPartIsZero {
		arith = "missing part: 0"
	}
	treat := "DynamoDB math ignores missing data"
	if r.MathFollowsTreatment {
		treat = "DynamoDB math follows its treatment"
	}
	return arith + ", " + treat
}

// Readings are every combination of the open choices, strictest first.
func Readings() []Reading {
	return []Reading{{}, {MathFollowsTreatment: true}, {MissingPartIsZero: true}, {MissingPartIsZero: true, MathFollowsTreatment: true}}
}

// expr is a parsed metric-math expression.
type expr interface {
	// eval returns the expression's datapoints over the periods (a
	// scalar is a constant, present in every period the series it meets
	// has).
	eval(c *mathContext) value
}

// value is a time series (period start -> datapoint; a missing period has
// no key) or a scalar.
type value struct {
	scalar bool
	s      float64
	ts     map[time.Time]float64
}

type mathContext struct {
	parts   map[string]map[time.Time]float64
	periods []time.Time
	reading Reading
}

type (
	number float64
	ref    string
	binary struct {
		op   byte
		l, r expr
	}
	fill struct {
		e    expr
		with float64
	}
)

func (n number) eval(*mathContext) value { return value{scalar: true, s: float64(n)} }

func (r ref) eval(c *mathContext) value { return value{ts: c.parts[string(r)]} }

// eval fills every period of the evaluated range without a datapoint: the
// range is the alarm's evaluation periods (or the graph's), so a part
// with no datapoint in any of them is filled throughout.
func (f fill) eval(c *mathContext) value {
	v := f.e.eval(c)
	if v.scalar {
		return v
	}
	out := make(map[time.Time]float64, len(c.periods))
	for _, p := range c.periods {
		if x, ok := v.ts[p]; ok {
			out[p] = x
		} else {
			out[p] = f.with
		}
	}
	return value{ts: out}
}

func (b binary) eval(c *mathContext) value {
	l, r := b.l.eval(c), b.r.eval(c)
	if l.scalar && r.scalar {
		v, ok := apply(b.op, l.s, r.s)
		if !ok {
			return value{ts: map[time.Time]float64{}}
		}
		return value{scalar: true, s: v}
	}
	out := map[time.Time]float64{}
	for _, p := range c.periods {
		x, xok := l.at(p)
		y, yok := r.at(p)
		switch {
		case xok && yok:
		case (xok || yok) && !l.scalar && !r.scalar && c.reading.MissingPartIsZero:
			// The lenient reading: the missing side is 0. A scalar
			// meets a series only where the series has datapoints.
		default:
			continue
		}
		if v, ok := apply(b.op, x, y); ok {
			out[p] = v
		}
	}
	return value{ts: out}
}

// at is the value's datapoint in period p (0 when missing).
func (v value) at(p time.Time) (float64, bool) {
	if v.scalar {
		return v.s, true
	}
	x, ok := v.ts[p]
	return x, ok
}

// apply is one arithmetic operation; a division by zero has no datapoint.
func apply(op byte, x, y float64) (float64, bool) {
	switch op {
	case '+':
		return x + y, true
	case '-':
		return x - y, true
	case '*':
		return x * y, true
	case '/':
		if y == 0 {
			return 0, false
		}
		return x / y, true
	}
	return 0, false
}

// parseMath parses an expression, whose part IDs must be among ids.
func parseMath(s string, ids []string) (expr, error) {
	p := &parser{src: s, ids: ids}
	p.next()
	e, err := p.sum()
	if err == nil && p.tok != "" {
		err = fmt.Errorf("unexpected %q", p.tok)
	}
	if err != nil {
		return nil, fmt.Errorf("metric math %q: %w", s, err)
	}
	return e, nil
}

type parser struct {
	src string
	pos int
	tok string // "" at the end
	ids []string
}

func (p *parser) next() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = ""
		return
	}
	c := rune(p.src[p.pos])
	switch {
	case unicode.IsLetter(c) || c == '_':
		for p.pos < len(p.src) && (isWord(rune(p.src[p.pos]))) {
			p.pos++
		}
	case unicode.IsDigit(c) || c == '.':
		for p.pos < len(p.src) && (unicode.IsDigit(rune(p.src[p.pos])) || p.src[p.pos] == '.') {
			p.pos++
		}
	default:
		p.pos++
	}
	p.tok = p.src[start:p.pos]
}

func isWord(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' }

// sum := product (("+"|"-") product)*
func (p *parser) sum() (expr, error) {
	l, err := p.product()
	for err == nil && (p.tok == "+" || p.tok == "-") {
		op := p.tok[0]
		p.next()
		var r expr
		if r, err = p.product(); err == nil {
			l = binary{op, l, r}
		}
	}
	return l, err
}

// product := operand (("*"|"/") operand)*
func (p *parser) product() (expr, error) {
	l, err := p.operand()
	for err == nil && (p.tok == "*" || p.tok == "/") {
		op := p.tok[0]
		p.next()
		var r expr
		if r, err = p.operand(); err == nil {
			l = binary{op, l, r}
		}
	}
	return l, err
}

// operand := number | id | "(" sum ")" | "-" operand | FILL "(" sum "," number ")"
func (p *parser) operand() (expr, error) {
	tok := p.tok
	switch {
	case tok == "":
		return nil, fmt.Errorf("unexpected end")
	case tok == "(":
		p.next()
		e, err := p.sum()
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	case tok == "-":
		p.next()
		e, err := p.operand()
		return binary{'*', number(-1), e}, err
	case unicode.IsDigit(rune(tok[0])) || tok[0] == '.':
		v, err := strconv.ParseFloat(tok, 64)
		p.next()
		return number(v), err
	case tok == "FILL":
		p.next()
		if err := p.expect("("); err != nil {
			return nil, err
		}
		e, err := p.sum()
		if err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		// FILL's REPEAT and LINEAR are not used by the definition.
		with, err := p.operand()
		if err != nil {
			return nil, err
		}
		n, ok := with.(number)
		if !ok {
			return nil, fmt.Errorf("FILL's value must be a number here")
		}
		return fill{e, float64(n)}, p.expect(")")
	case strings.ToUpper(tok) == tok && unicode.IsUpper(rune(tok[0])):
		return nil, fmt.Errorf("the local evaluator has no function %s", tok)
	}
	for _, id := range p.ids {
		if id == tok {
			p.next()
			return ref(tok), nil
		}
	}
	return nil, fmt.Errorf("%q is not a part of the expression", tok)
}

func (p *parser) expect(tok string) error {
	if p.tok != tok {
		return fmt.Errorf("want %q, have %q", tok, p.tok)
	}
	p.next()
	return nil
}
