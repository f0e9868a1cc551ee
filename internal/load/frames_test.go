package load

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/groupchat/groupchat/contract"
)

// checkSendPublic fails t unless data is the sendPublic frame of
// docs/protocol.md carrying text as message seq: exactly the keys action,
// message and ref, the action being the route's name as contract spells it.
func checkSendPublic(t *testing.T, data []byte, text string, seq int) {
	t.Helper()
	if route := contract.SelectRoute(data); route != contract.RouteSendPublic {
		t.Fatalf("%s selects route %s, want %s", data, route, contract.RouteSendPublic)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatalf("%s is not a JSON object: %v", data, err)
	}
	if keys, want := slices.Sorted(maps.Keys(fields)), []string{"action", "message", "ref"}; !slices.Equal(keys, want) {
		t.Fatalf("%s has the keys %v, want %v", data, keys, want)
	}
	var action, message, ref string
	for key, v := range map[string]*string{"action": &action, "message": &message, "ref": &ref} {
		if err := json.Unmarshal(fields[key], v); err != nil {
			t.Fatalf("%q of %s is not a string: %v", key, data, err)
		}
	}
	if action != contract.RouteSendPublic || message != text || ref != strconv.Itoa(seq) {
		t.Fatalf("%s decodes to action %q message %q ref %q, want %q %q %q",
			data, action, message, ref, contract.RouteSendPublic, text, strconv.Itoa(seq))
	}
	if len(ref) > 64 {
		t.Fatalf("ref %q is longer than the protocol's 64 characters", ref)
	}
}

func TestEncodeSendPublicIsTheProtocolsSendPublic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
		seq  int
	}{
		{"a marker", marker("r1", 0), 0},
		{"a padded marker", marker("r1", 7) + strings.Repeat("x", 50), 7},
		{"the largest message", marker("abc123", 99999) + strings.Repeat("x", 2000-len(marker("abc123", 99999))), 99999},
		{"characters JSON escapes", marker(`q"\<&>`, 3) + "\n\t", 3},
		{"non-ASCII", marker("r1", 12) + "héllo, 世界", 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data, err := encodeSendPublic(tc.text, tc.seq)
			if err != nil {
				t.Fatal(err)
			}
			checkSendPublic(t, data, tc.text, tc.seq)
		})
	}
}

// TestSendWritesASendPublicTheToolRecognisesInItsCopy: the frame a client
// writes is a sendPublic text frame carrying a message of MessageSize bytes
// that starts with the message's marker, and the server's public frame made
// from it (the sender's copy, with the ref) is taken for that message.
func TestSendWritesASendPublicTheToolRecognisesInItsCopy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type received struct {
		typ  websocket.MessageType
		data []byte
		err  error
	}
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ws, err := websocket.Accept(w, req, nil)
		if err != nil {
			got <- received{err: err}
			return
		}
		defer ws.CloseNow()
		typ, data, err := ws.Read(ctx)
		got <- received{typ, data, err}
	}))
	defer srv.Close()

	cfg, err := Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Clients: 1, MessageSize: 100, Run: "r1"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(cfg)
	c := r.clients[0]
	c.ws, _, err = websocket.Dial(ctx, cfg.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.ws.CloseNow()
	m := r.send(ctx, c)
	if m == nil {
		t.Fatal("send failed")
	}

	rcv := <-got
	if rcv.err != nil {
		t.Fatal(rcv.err)
	}
	if rcv.typ != websocket.MessageText {
		t.Fatalf("a %v frame; the protocol takes text frames only", rcv.typ)
	}
	var f contract.SendPublicRequest
	if err := json.Unmarshal(rcv.data, &f); err != nil {
		t.Fatal(err)
	}
	checkSendPublic(t, rcv.data, f.Message, m.seq)
	if len(f.Message) != cfg.MessageSize || !utf8.ValidString(f.Message) || !strings.HasPrefix(f.Message, marker(cfg.Run, m.seq)) {
		t.Fatalf("message %q: want %d bytes starting with %q", f.Message, cfg.MessageSize, marker(cfg.Run, m.seq))
	}

	copyOf, err := json.Marshal(map[string]any{"type": "public", "id": "01JDZ4W7Q8T5V9XGQ2J3K4M5N6", "ts": 1,
		"room": r.roomName(c.room), "from": c.name, "message": f.Message, "ref": f.Ref})
	if err != nil {
		t.Fatal(err)
	}
	if p := parseFrame(copyOf, cfg.Run); p.kind != kindPublic || p.seq != m.seq || !p.own {
		t.Fatalf("the sender's copy %s parses as %+v, want message %d, own", copyOf, p, m.seq)
	}
}

// Every field the smoke test's Frame reads is a string field of a frame kind
// of contract's definition: a field renamed there fails here.
func TestFrameReadsFieldsOfTheDefinition(t *testing.T) {
	t.Parallel()
	strs := map[string]bool{"type": true}
	for _, k := range contract.FrameKinds() {
		for _, f := range k.Fields {
			if f.Type == contract.String {
				strs[f.Name] = true
			}
		}
	}
	ft := reflect.TypeFor[Frame]()
	for i := range ft.NumField() {
		name, _, _ := strings.Cut(ft.Field(i).Tag.Get("json"), ",")
		if !strs[name] {
			t.Errorf("Frame.%s reads %q, which no frame kind of the definition has as a string", ft.Field(i).Name, name)
		}
	}
}
