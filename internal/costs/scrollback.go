package costs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// A page of scrollback (the history action) is computed here from the
// items' sizes, not measured: it reads up to chat.HistoryLimit items of the
// room's public messages and as many of the caller's private copies, each
// Query strongly consistent, so its read units are each Query's item bytes
// in 4 KB units; its write is the budget's charge (1 WRU); its answer is
// one route response of at most chat.StateMaxBytes.

// itemAttr is one attribute of a record item: its name and the size
// DynamoDB counts for its value.
type itemAttr struct {
	name string
	size int
}

// numberSize is DynamoDB's size of a number: about one byte per two
// significant digits, plus one.
func numberSize(digits int) int { return (digits+1)/2 + 1 }

// recordItemBytes is the size DynamoDB counts for one message record item
// (lambda/dynamo's recordItem with its omitempty fields): a message of
// msgBytes UTF-8 bytes from a signed-in sender, a private one (its copy in
// the reader's partition) to one recipient.
func recordItemBytes(private bool, msgBytes int) int {
	const room, from, sub, username = "lobby", "Alice", "0f8c3a52-1b7e-4c1d-9a77-2f1e0d3c4b5a", "alice"
	stream := "public#" + room
	kind := contract.FramePublic
	if private {
		stream = contract.ReaderStreamPrefix + room + "#a:" + sub
		kind = contract.FramePrivate
	}
	attrs := []itemAttr{
		{"stream", len(stream)}, {"id", 26}, {"kind", len(kind)}, {"ts", numberSize(13)}, {"room", len(room)},
		{"from", len(from)}, {"message", msgBytes}, {"connectionId", 16}, {"expiresAt", numberSize(10)},
		{"fromAccount", len(sub)}, {"fromUsername", len(username)},
	}
	if private {
		attrs = append(attrs, itemAttr{"to", 3 + len("Bob") + 1}, itemAttr{"toAccounts", 3 + len(sub) + 1})
	}
	n := 0
	for _, a := range attrs {
		n += len(a.name) + a.size
	}
	return n
}

// consistentRRU is a strongly consistent Query's read units: the items'
// bytes summed, in 4 KB units, at least 1.
func consistentRRU(bytes int) int { return max(1, (bytes+4095)/4096) }

// scrollbackCase is one page the section prices.
type scrollbackCase struct {
	what            string
	public, private int // items read of each
	msg             string
}

// answer is the page's historyPage frame as the handler sends it (no HTML
// escaping): the newest entries that fit in chat.StateMaxBytes, and how
// many fit.
func (c scrollbackCase) answer() (bytes, fit int) {
	const room, from, sub, username = "lobby", "Alice", "0f8c3a52-1b7e-4c1d-9a77-2f1e0d3c4b5a", "alice"
	f := contract.HistoryPageFrame{Type: contract.FrameHistory, Room: room, Cursor: strings.Repeat("x", 44)}
	pub := contract.PublicFrame{Type: contract.FramePublic, ID: strings.Repeat("0", 26), TS: 1796442777298, Room: room,
		From: from, Message: c.msg, Account: sub, Username: username}
	priv := contract.PrivateFrame{Type: contract.FramePrivate, ID: strings.Repeat("0", 26), TS: 1796442777298, Room: room,
		From: from, To: []string{"Bob"}, Message: c.msg, Account: sub, Username: username}
	size := len(encodeJSON(f))
	// Public and private alternate while both last (the merge by time).
	for i, pubLeft, privLeft := 0, c.public, c.private; pubLeft+privLeft > 0; i++ {
		entry := encodeJSON(pub)
		if privLeft > 0 && (i%2 == 1 || pubLeft == 0) {
			entry, privLeft = encodeJSON(priv), privLeft-1
		} else {
			pubLeft--
		}
		if size+len(entry)+1 > chat.StateMaxBytes {
			break
		}
		size += len(entry) + 1
		fit++
	}
	return size, fit
}

func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// WriteScrollback writes the section on a page of scrollback.
func WriteScrollback(w io.Writer) {
	short := strings.Repeat("a", 100)
	costly := strings.Repeat("😀", contract.MessageMax)
	cases := []scrollbackCase{
		{"100-byte messages, both lists full", chat.HistoryLimit, chat.HistoryLimit, short},
		{"100-byte public messages, 3 private", chat.HistoryLimit, 3, short},
		{fmt.Sprintf("the costliest: %d 4-byte characters each (%d bytes), both lists full",
			utf8.RuneCountInString(costly), len(costly)), chat.HistoryLimit, chat.HistoryLimit, costly},
	}
	fmt.Fprintf(w, "## A page of scrollback\n\n")
	fmt.Fprintf(w, "Computed from the items' sizes by internal/costs/scrollback.go (written with the rest of this file), not\n"+
		"measured: a `history` page reads up to %d of the room's public messages and up to %d of the caller's private\n"+
		"copies, two strongly consistent Queries (each 1 RRU per started 4 KB of the items it read), and its charge writes\n"+
		"the budget (1 WRU); its answer is one route response of at most 100 KB (API Gateway bills 32 KB units, the frame\n"+
		"in and the answer out). A message item of a signed-in sender is %d bytes plus its text (a private copy %d).\n"+
		"Lambda time is not in the figures.\n\n",
		chat.HistoryLimit, chat.HistoryLimit, recordItemBytes(false, 0), recordItemBytes(true, 0))
	fmt.Fprintf(w, "| page | items read | RRU | WRU | API GW messages | answer bytes (messages in it) | USD per 1,000 pages |\n"+
		"|---|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cases {
		rru := consistentRRU(c.public * recordItemBytes(false, len(c.msg)))
		if c.private > 0 {
			rru += consistentRRU(c.private * recordItemBytes(true, len(c.msg)))
		}
		size, fit := c.answer()
		msgs := 1 + units(size)
		usd := float64(rru)*PriceRRUMillion/1e6 + PriceWRUMillion/1e6 + float64(msgs)*PriceMessageMillion/1e6
		fmt.Fprintf(w, "| %s | %d | %d | 1 | %d | %s (%d) | %.4f |\n", c.what, c.public+c.private, rru, msgs,
			num(float64(size)), fit, usd*1000)
	}
	fmt.Fprintf(w, "\nThe costliest page reads every item it may (about %d KB) for the few messages that fit in its 100 KB;\n"+
		"reading in smaller steps would save most of that, and is not done.\n",
		chat.HistoryLimit*(recordItemBytes(false, len(costly))+recordItemBytes(true, len(costly)))/1024)
}
