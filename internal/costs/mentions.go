package costs

import (
	"fmt"
	"io"
	"strings"

	"github.com/groupchat/groupchat/contract"
)

// A public message's mentions (lambda/chat/mention.go) are priced here from
// the requests they make, not measured: each `@` is looked up as at most
// contract.MentionWordsMax candidate names, each lookup one strongly
// consistent GetItem of the name's owner item (sign-in; the room's claim
// without) and, when someone holds the name, one of their account (the
// connection without): at most contract.MentionLookupsMax lookups a message.
// Every item read is far under 4 KB: 1 RRU each. The resolved mentions are
// stored in the message's item, which may cross a 1 KB write unit.

// mentionBytes is what DynamoDB counts for n mentions with names of
// nameBytes and a Cognito sub: the "mentions" list (3 bytes and 1 per
// element) of maps (3 bytes and 1 per element, each "name" and "account").
func mentionBytes(n, nameBytes int) int {
	if n == 0 {
		return 0
	}
	const sub = "0f8c3a52-1b7e-4c1d-9a77-2f1e0d3c4b5a"
	one := 3 + 2 + len("name") + nameBytes + len("account") + len(sub)
	return len("mentions") + 3 + n*(one+1)
}

// mentionCase is one message the section prices.
type mentionCase struct {
	what      string
	getItems  int // GetItems made
	marked    int // mentions stored
	nameBytes int
}

// WriteMentions writes the section on a message's mentions.
func WriteMentions(w io.Writer) {
	cases := []mentionCase{
		{"no `@`", 0, 0, 0},
		{"`@bob`, bob in the room", 2, 1, 3},
		{"`@bob`, bob elsewhere", 2, 0, 0},
		{"`@Mary Ann`, held in the room (\"Mary\" held too)", 2, 1, 8},
		{"`@bob can you look`, bob in the room (\"bob can you\", \"bob can\" held by nobody)", 4, 1, 3},
		{"`@word`, a name nobody holds", 1, 0, 0},
		{fmt.Sprintf("the costliest: %d lookups, %d marked with %d-byte names", contract.MentionLookupsMax,
			contract.MentionsMax, contract.NameMaxBytes), 2 * contract.MentionLookupsMax, contract.MentionsMax, contract.NameMaxBytes},
	}
	fmt.Fprintf(w, "## A message's mentions\n\n")
	fmt.Fprintf(w, "Computed from the requests by internal/costs/mentions.go (written with the rest of this file), not measured:\n"+
		"besides the public message's own requests above, each `@` costs a lookup of up to %d candidate names (its first\n"+
		"three words, then two, then one: the longest name held wins), each one strongly consistent GetItem of the name's owner item (without sign-in the\n"+
		"room's claim) and, when the name is held, one of the holder's account (the connection): 1 RRU each, the items\n"+
		"being far under 4 KB; a message makes at most %d lookups, so at most %d GetItems, and marks at most %d people.\n"+
		"The marks are stored in the message's item (a signed-in mention adds %d bytes plus the name), which may\n"+
		"take its write past a 1 KB unit. The sender's own account is read already, and its mention costs 1 GetItem.\n"+
		"Lambda time: the GetItems run one after another, a few ms each on AWS.\n\n",
		contract.MentionWordsMax, contract.MentionLookupsMax, 2*contract.MentionLookupsMax, contract.MentionsMax,
		mentionBytes(1, 0))
	fmt.Fprintf(w, "| message | GetItems | RRU | item bytes added | USD per 1,000 messages (the mentions' share, at most: a started write unit counted) |\n"+
		"|---|---:|---:|---:|---:|\n")
	for _, c := range cases {
		added := mentionBytes(c.marked, c.nameBytes)
		usd := float64(c.getItems)*PriceRRUMillion/1e6 + float64((added+1023)/1024)*PriceWRUMillion/1e6
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.4f |\n", c.what, c.getItems, c.getItems, added, usd*1000)
	}
	fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(`
A mention adds no deliveries: the message goes to the room as before, with its mentions in the frame (at most
`+fmt.Sprint(contract.MentionsMax)+` entries of a name and an account).`))
	fmt.Fprintln(w)
}
