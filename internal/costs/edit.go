package costs

import (
	"fmt"
	"io"
	"strings"

	"github.com/groupchat/groupchat/contract"
)

// An edit (the edit action) is computed here from the items' sizes, as a
// page of scrollback is: its requests are the handler's (lambda/chat
// edit.go, as the crash-point test lists them), its write units the
// transaction's items at 2 WRU per started KB each, its deliveries a public
// message's (the room) or a private one's (its participants).

// transactWRU is what one item written in a transaction costs: 2 WRU per
// started KB.
func transactWRU(bytes int) int { return 2 * max(1, (bytes+1023)/1024) }

// editedItemBytes is a message item after an edit: the item, with the new
// text, editedAt and editedToken (a private message's item in private#room
// also lists its readers, which its copies do not).
func editedItemBytes(private bool, msgBytes int) int {
	return recordItemBytes(private, msgBytes) + len("editedAt") + numberSize(13) + len("editedToken") + 16
}

// editActivityBytes is an edit's activity record: the editor, the message's
// id, the text after (message) and before (previous).
func editActivityBytes(before, after int) int {
	const room, from, sub = "lobby", "Alice", "0f8c3a52-1b7e-4c1d-9a77-2f1e0d3c4b5a"
	attrs := []itemAttr{
		{"stream", len("activity#" + room)}, {"id", 26}, {"kind", len(contract.FrameEdited)}, {"ts", numberSize(13)},
		{"room", len(room)}, {"from", len(from)}, {"message", after}, {"previous", before}, {"connectionId", 16},
		{"expiresAt", numberSize(10)}, {"fromAccount", len(sub)}, {"messageId", 26},
	}
	n := 0
	for _, a := range attrs {
		n += len(a.name) + a.size
	}
	return n
}

// WriteEdit writes the section on an edit.
func WriteEdit(w io.Writer) {
	short, long := 100, len(strings.Repeat("😀", contract.MessageMax))
	fmt.Fprintf(w, "\n## An edit\n\n")
	fmt.Fprintf(w, "Computed from the items' sizes by internal/costs/edit.go (written with the rest of this file), not measured.\n"+
		"A signed-in sender's `edit` draws %d units of the budget (of a private message to k people, k/2 more, drawn by an\n"+
		"UpdateItem more once the message is read) and makes these requests (lambda/chat edit.go; the\n"+
		"crash-point test `$default/signed/bob-edits-his-message` lists them): the budget's charge (UpdateItem, 1 WRU),\n"+
		"the connection's record (GetItem, 1 RRU), the message (a consistent GetItem of the public one, 1 RRU per started\n"+
		"4 KB; a private one is a second GetItem, after the public one is not found), for a public one the new text's\n"+
		"mentions (none in the rows below: each `@` as a sent message's, at most 16 GetItems, *A message's mentions*),\n"+
		"then one TransactWriteItems: the message's item,\n"+
		"the edit's activity record (the text before and after), and for a private message each participant's copy,\n"+
		"each item 2 WRU per started KB. Its deliveries are a public message's: a public edit reads the room's member\n"+
		"list (the same Query as a public message's broadcast, its RRU in the tables above, not counted here) and sends\n"+
		"every member one `edited` frame (the editor's own copy among them); a private edit reads each recipient's\n"+
		"account (GetItem, 1 RRU) and the record of each participant's connection in the room but the editor's (GetItem,\n"+
		"1 RRU: one past its sign-in and the grace, or ended by a ban, is closed instead) and sends each of those\n"+
		"connections one frame. A repeat (the same text sent again after no answer) writes nothing and tells the\n"+
		"readers again. Lambda time is not in the figures.\n\n",
		editCost())
	fmt.Fprintf(w, "| edit | room | DynamoDB requests | RRU | WRU | frames out | API GW messages | USD per 1,000 edits |\n"+
		"|---|---:|---|---:|---:|---:|---:|---:|\n")
	for _, n := range []int{10, 100, 1000} {
		for _, size := range []int{short, long} {
			wru := 1 + transactWRU(editedItemBytes(false, size)) + transactWRU(editActivityBytes(size, size))
			rru, msgs := 1+consistentRRU(editedItemBytes(false, size)), 1+n
			usd := float64(rru)*PriceRRUMillion/1e6 + float64(wru)*PriceWRUMillion/1e6 + float64(msgs)*PriceMessageMillion/1e6
			fmt.Fprintf(w, "| public, %s-byte text | %s | 1 UpdateItem, 2 GetItem, 1 TransactWriteItems (2 items), the members' Query | %d + the Query's | %d | %s | %s | %.4f + the Query's |\n",
				num(float64(size)), num(float64(n)), rru, wru, num(float64(n)), num(float64(msgs)), usd*1000)
		}
	}
	for _, size := range []int{short, long} {
		wru := 1 + transactWRU(editedItemBytes(true, size)+len("readers")+2*(3+36)) + transactWRU(editActivityBytes(size, size)) +
			2*transactWRU(editedItemBytes(true, size))
		rru, msgs := 4+consistentRRU(editedItemBytes(true, size)), 3
		usd := float64(rru)*PriceRRUMillion/1e6 + float64(wru)*PriceWRUMillion/1e6 + float64(msgs)*PriceMessageMillion/1e6
		fmt.Fprintf(w, "| private to 1 recipient, %s-byte text | any | 1 UpdateItem, 5 GetItem, 1 TransactWriteItems (4 items) | %d | %d | 2 | %d | %.4f |\n",
			num(float64(size)), rru, wru, msgs, usd*1000)
	}
	fmt.Fprintf(w, "\nThe record keeps every version: each edit adds an activity record of about %d bytes plus both texts,\n"+
		"kept for the message retention (30 days by default) like the message.\n",
		editActivityBytes(0, 0))
}

// editCost is the edit action's price in budget units.
func editCost() int {
	a, _ := contract.LookupAction(contract.ActionEdit)
	return a.Cost
}

// WriteComputed writes the sections computed rather than measured, which
// end docs/costs.md: a page of scrollback and an edit.
func WriteComputed(w io.Writer) {
	WriteScrollback(w)
	WriteEdit(w)
}
