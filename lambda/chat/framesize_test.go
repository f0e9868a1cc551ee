package chat

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/groupchat/groupchat/contract"
)

// chatFrameMax is the bound docs/protocol.md ("Limits") and docs/design.md
// ("Frame sizes") give for a public or private frame: 21 KB.
const chatFrameMax = 21_000

// API Gateway's limits on what the server sends to a connection.
const (
	gatewayFrameMax   = 32 * 1024
	gatewayMessageMax = 128 * 1024
)

// jsonCost is how many bytes a string adds to a frame as a JSON string
// value, without the quotes: encode escapes '"', '\', control characters
// and U+2028/U+2029 (as \u2028, six bytes).
func jsonCost(s string) int { return len(encode(s)) - 2 }

// costs[r] is jsonCost(string(r)) for every code point (0 for surrogates).
var costs = sync.OnceValue(func() []int8 {
	c := make([]int8, utf8.MaxRune+1)
	for r := range c {
		if utf8.ValidRune(rune(r)) {
			c[r] = int8(jsonCost(string(rune(r))))
		}
	}
	return c
})

// dearest is, for each UTF-8 length 1 to 4, the character that costs the
// most JSON bytes among those ok accepts (0 when there is none), found by
// trying every code point: the worst case is measured, not assumed.
func dearest(ok func(r rune) bool) (best [5]rune) {
	c := costs()
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) || !ok(r) {
			continue
		}
		if n := utf8.RuneLen(r); best[n] == 0 || c[r] > c[best[n]] {
			best[n] = r
		}
	}
	return best
}

// worstName is the name that costs the most JSON bytes: the mix of the
// dearest characters of each UTF-8 length that fits in NameMax characters
// and NameMaxBytes bytes. It is a name held before the name rule
// (cleanShape): one may still be anywhere a name is.
func worstName(t *testing.T) string { t.Helper(); return worstNameBy(t, cleanShape) }

// worstNewName is worstName among the names the rule gives now
// (CleanName): the most a frame that echoes a name someone asks for, such
// as name_taken, repeats.
func worstNewName(t *testing.T) string { t.Helper(); return worstNameBy(t, CleanName) }

func worstNameBy(t *testing.T, clean func(string) (string, *Problem)) string {
	t.Helper()
	best := dearest(func(r rune) bool {
		s := "a" + string(r) + "a"
		name, p := clean(s)
		return p == nil && name == s && norm.NFC.String(string(r)) == string(r)
	})
	cost := func(n int) int {
		if best[n] == 0 {
			return -1
		}
		return jsonCost(string(best[n]))
	}
	var top, counts [5]int
	top[0] = -1
	for a := 0; a <= NameMax; a++ {
		for b := 0; a+b <= NameMax; b++ {
			for c := 0; a+b+c <= NameMax; c++ {
				for d := 0; a+b+c+d <= NameMax; d++ {
					if a+2*b+3*c+4*d > NameMaxBytes {
						break
					}
					n := [5]int{0, a, b, c, d}
					total, possible := 0, true
					for l := 1; l <= 4; l++ {
						if n[l] > 0 && cost(l) < 0 {
							possible = false
						}
						total += n[l] * cost(l)
					}
					if possible && total > top[0] {
						top[0], counts = total, n
					}
				}
			}
		}
	}
	var b strings.Builder
	for l := 1; l <= 4; l++ {
		b.WriteString(strings.Repeat(string(best[l]), counts[l]))
	}
	name := b.String()
	if clean, p := clean(name); p != nil || clean != name {
		t.Fatalf("the worst name %+q is not a name as it stands: %q, %v", name, clean, p)
	}
	return name
}

// worstMessage is the longest message in JSON: MessageMax of the dearest
// character, but one that is not white space if the dearest is.
func worstMessage(t *testing.T) string {
	t.Helper()
	costliest := func(ok func(string) bool) (best rune) {
		for _, r := range dearest(func(r rune) bool { return ok(string(r)) }) {
			if r != 0 && (best == 0 || jsonCost(string(r)) > jsonCost(string(best))) {
				best = r
			}
		}
		return best
	}
	valid := func(s string) bool { _, p := cleanMessage(s); return p == nil }
	anyChar := costliest(func(s string) bool { return valid(s + "x") })
	alone := costliest(valid)
	msg := strings.Repeat(string(anyChar), MessageMax-1) + string(alone)
	if !valid(msg) {
		t.Fatalf("the worst message (%+q…) is refused", msg[:12])
	}
	return msg
}

// worstRef is the longest ref in JSON: RefMax of the dearest character a
// JSON string can carry.
func worstRef(t *testing.T) string {
	t.Helper()
	var dear rune
	for _, r := range dearest(func(rune) bool { return true }) {
		if r != 0 && (dear == 0 || jsonCost(string(r)) > jsonCost(string(dear))) {
			dear = r
		}
	}
	ref := strings.Repeat(string(dear), RefMax)
	frame, _ := json.Marshal(map[string]string{"action": contract.ActionPing, "ref": ref})
	if req, p := parseRequest(string(frame)); p != nil || req.Ref != ref {
		t.Fatalf("the worst ref %+q is refused: %v", ref, p)
	}
	return ref
}

// The largest chat frame: a private message from and to people with the
// dearest names, of the dearest message, as the sender's copy with the
// dearest ref, with the longest room, id and time. A frame the server can
// send is at most this big.
func TestTheLargestChatFrameIsWithinTheDocumentedBound(t *testing.T) {
	t.Parallel()
	name, msg, ref := worstName(t), worstMessage(t), worstRef(t)
	to := make([]string, RecipientsMax)
	for i := range to {
		to[i] = name
	}
	room := strings.Repeat("r", 32)
	if got, p := CleanRoom(room); p != nil || got != room {
		t.Fatalf("room %q: %v", room, p)
	}
	const id, ts = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 9_999_999_999_999 // the largest ULID; 13 digits last until 2286
	// With sign-in the sender's account and username: at most ClaimMaxBytes
	// each (the authorizer refuses longer), of the dearest character in
	// JSON ("<" is "\u003c").
	claim := strings.Repeat("\x01", ClaimMaxBytes)
	public := encode(withRef(publicFrame{Type: KindPublic, ID: id, TS: ts, Room: room, From: name, Message: msg,
		Account: claim, Username: claim}, ref))
	private := encode(withRef(privateFrame{Type: KindPrivate, ID: id, TS: ts, Room: room, From: name, To: to, Message: msg,
		Account: claim, Username: claim}, ref))
	t.Logf("worst name %+q (%d bytes of JSON), message of %+q (%d), ref of %+q (%d): public frame %d bytes, private %d",
		name, jsonCost(name), msg[:3], jsonCost(msg), ref[:1], jsonCost(ref), len(public), len(private))

	for _, f := range []struct {
		kind string
		data []byte
	}{{"public", public}, {"private", private}} {
		if len(f.data) > chatFrameMax {
			t.Errorf("the largest %s frame is %d bytes, over the documented %d", f.kind, len(f.data), chatFrameMax)
		}
		if len(f.data) > gatewayFrameMax || len(f.data) > gatewayMessageMax {
			t.Errorf("the largest %s frame is %d bytes, over API Gateway's limits", f.kind, len(f.data))
		}
	}
	// The bound is the real one, not a guess far above it.
	if len(private) < chatFrameMax-512 {
		t.Errorf("the largest frame is %d bytes: the documented %d is loose; lower it", len(private), chatFrameMax)
	}
}
