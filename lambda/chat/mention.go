// Mentions: the `@name`s of a public message, resolved by the server against
// the names held in the room when it is sent, so that the people a message
// marks are the server's reading of its text, never a client's say
// (docs/design.md, Mentions).

package chat

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/groupchat/groupchat/contract"
)

// The bounds of a message's mentions (contract): the people it marks, the
// names looked up for them (each at most two GetItems), and the words after
// an `@` tried as a name.
const (
	MentionsMax       = contract.MentionsMax
	MentionLookupsMax = contract.MentionLookupsMax
	MentionWordsMax   = contract.MentionWordsMax
)

// Mention is a person a public message mentions (contract.ShapeMention): the
// name they held in the room when it was sent and, with sign-in, their account.
type Mention struct {
	Name    string
	Account string
}

// mentionCandidates returns, for each `@` of msg that starts a word (so
// "a@b.c" is no mention), in order, the names it may stand for, longest
// first (so "@Mary Ann" is Mary Ann when Mary is in the room too): its first
// MentionWordsMax words, then fewer, down to its first word, each without
// the punctuation that ends it ("@bob," is "bob") and only while it could be
// a name (at most NameMax characters).
func mentionCandidates(msg string) [][]string {
	var out [][]string
	prev := ' '
	for i, r := range msg {
		if r != '@' || unicode.IsLetter(prev) || unicode.IsDigit(prev) {
			prev = r
			continue
		}
		prev = r
		words := strings.Fields(msg[i+utf8.RuneLen(r):])
		var cands []string
		for k := 1; k <= min(len(words), MentionWordsMax); k++ {
			if strings.HasPrefix(words[k-1], "@") {
				break // the next mention
			}
			name := strings.TrimRightFunc(strings.Join(words[:k], " "), unicode.IsPunct)
			if utf8.RuneCountInString(name) > NameMax {
				break
			}
			if clean, p := cleanShape(name); p == nil && !strings.HasPrefix(clean, "@") {
				cands = append(cands, clean)
			}
		}
		if len(cands) > 0 {
			slices.Reverse(cands)
			out = append(out, cands)
		}
	}
	return out
}

// mentions resolves msg's `@name`s for a message c sends to its room (a,
// its account with sign-in): each `@` is the first of its candidates (the
// longest) held in the room, at most MentionsMax people, each once, after at
// most MentionLookupsMax lookups. A lookup that fails fails the message: a
// mark the text asks for is never silently left out.
// lookups is how many were made (each one or two GetItems): the message's
// price grows with them (sendPublic).
func (inv *invocation) mentions(ctx context.Context, c Connection, a Account, msg string) (out []Mention, lookups int, _ error) {
	held := map[string]bool{} // each name looked up once: held in the room or not
	// Two spellings are one name as the lookup reads them: with sign-in by
	// the owner item's key (look-alikes folded), without by the room's claim
	// (case and width folded only: "bоb", a Cyrillic о, is not bob's claim,
	// so "@bоb" must not stand for a later "@bob" as tried already).
	keyOf := Fold
	if c.AccountID != "" {
		keyOf = NameKey
	}
	for _, cands := range mentionCandidates(msg) {
		for _, name := range cands {
			if len(out) == MentionsMax || lookups == MentionLookupsMax {
				return out, lookups, nil
			}
			if was, ok := held[keyOf(name)]; ok {
				if was {
					break // marked already: not a shorter name within it
				}
				continue
			}
			held[keyOf(name)] = false
			lookups++
			m, ok, err := inv.mentioned(ctx, c, a, name)
			if err != nil {
				return nil, lookups, err
			}
			if !ok {
				continue
			}
			held[keyOf(name)] = true
			if !containsMention(out, m) {
				out = append(out, m)
			}
			break
		}
	}
	return out, lookups, nil
}

func containsMention(ms []Mention, m Mention) bool {
	for _, x := range ms {
		if (m.Account != "" && x.Account == m.Account) || (m.Account == "" && Fold(x.Name) == Fold(m.Name)) {
			return true
		}
	}
	return false
}

// mentioned looks name up in c's room: with sign-in the name's owner item
// and its account (two consistent GetItems; none for the sender's own
// account, read already), the account's name now and a device of it in the
// room; without, the room's claim and the connection holding it (two
// consistent GetItems), the connection still in the room under that name.
// A name whose rename is unfinished is not resolved: the room shows it still,
// but the name is leaving its holder.
func (inv *invocation) mentioned(ctx context.Context, c Connection, a Account, name string) (Mention, bool, error) {
	if c.AccountID == "" {
		m, ok, err := inv.store.Owner(ctx, c.Room, name)
		if err != nil || !ok {
			return Mention{}, false, err
		}
		holder, err := inv.store.GetConnection(ctx, m.ConnID)
		switch {
		case errors.Is(err, ErrNotFound):
			return Mention{}, false, nil
		case err != nil:
			return Mention{}, false, err
		case holder.Room != c.Room || Fold(holder.Name) != Fold(name):
			return Mention{}, false, nil
		}
		return Mention{Name: holder.Name}, true, nil
	}
	owner, err := inv.store.NameOwner(ctx, name)
	if err != nil || owner == "" {
		return Mention{}, false, err
	}
	if owner != a.ID {
		if a, err = inv.store.Account(ctx, owner); err != nil {
			return Mention{}, false, err
		}
	}
	if NameKey(a.Name) != NameKey(name) || len(a.members(c.Room, inv.opt.Now())) == 0 {
		return Mention{}, false, nil
	}
	return Mention{Name: a.Name, Account: owner}, true, nil
}

// mentionFrames are a record's mentions as a public frame carries them.
func mentionFrames(ms []Mention) []mention {
	var out []mention
	for _, m := range ms {
		out = append(out, mention(m))
	}
	return out
}
