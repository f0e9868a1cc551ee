// The reader behind ParseConfig: comma-ok reads of one environment's cdk.json
// object into a Config that already holds the defaults. A key left out keeps
// its default; a key present is type- and range-checked, and the first
// mistake is kept as an error that names the key.
package stack

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// emptiness says whether a string key may be the empty string.
type emptiness bool

const (
	optional emptiness = true  // "" means unset (account, region, alarmEmail)
	required emptiness = false // must match its pattern, from cdk.json or the default
)

type reader struct {
	prefix string
	obj    map[string]any
	seen   map[string]bool
	err    error
}

func (r *reader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s%s: %s", r.prefix, key, fmt.Sprintf(format, args...))
	}
}

// get returns the key's value, if cdk.json lists it.
func (r *reader) get(key string) (any, bool) {
	r.seen[key] = true
	v, ok := r.obj[key]
	return v, ok
}

func (r *reader) str(dst *string, key string, re *regexp.Regexp, empty emptiness) {
	v, ok := r.get(key)
	if !ok {
		if *dst == "" && empty == required {
			r.fail(key, "missing")
		}
		return
	}
	s, ok := v.(string)
	switch {
	case !ok:
		r.fail(key, "want a string, got %T", v)
	case s == "" && empty == optional:
	case !re.MatchString(s):
		r.fail(key, "invalid value %q (want %s)", s, re)
	}
	*dst = s
}

func (r *reader) boolean(dst *bool, key string) {
	v, ok := r.get(key)
	if !ok {
		return
	}
	b, ok := v.(bool)
	if !ok {
		r.fail(key, "want true or false, got %T", v)
	}
	*dst = b
}

// number reports whether cdk.json lists the key.
func (r *reader) number(dst *float64, key string, lo, hi float64) bool {
	v, ok := r.get(key)
	if !ok {
		return false
	}
	f, ok := v.(float64)
	if !ok {
		r.fail(key, "want a number, got %T", v)
		return true
	}
	if f < lo || f > hi {
		r.fail(key, "%v is out of range [%v, %v]", f, lo, hi)
	}
	*dst = f
	return true
}

// intIn reports whether cdk.json lists the key.
func (r *reader) intIn(dst *int, key string, lo, hi int) bool {
	f := float64(*dst)
	if !r.number(&f, key, float64(lo), float64(hi)) {
		return false
	}
	if f != float64(int(f)) {
		r.fail(key, "want a whole number, got %v", f)
	}
	*dst = int(f)
	return true
}

func (r *reader) oneOf(dst *int, key string, allowed []int) {
	if r.intIn(dst, key, allowed[0], allowed[len(allowed)-1]) && r.err == nil && !slices.Contains(allowed, *dst) {
		r.fail(key, "%d is not a CloudWatch Logs retention (%v)", *dst, allowed)
	}
}

func (r *reader) enum(dst *string, key string, allowed ...string) {
	v, ok := r.get(key)
	if !ok {
		return
	}
	s, ok := v.(string)
	if !ok || !slices.Contains(allowed, s) {
		r.fail(key, "want one of %s, got %v", strings.Join(allowed, ", "), v)
	}
	*dst = s
}
