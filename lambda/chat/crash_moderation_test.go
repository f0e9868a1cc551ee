package chat_test

// The crash points of the moderation acts on accounts (crash_test.go):
// carol, a moderator, bans, mutes or kicks bob; killed anywhere, she sends
// it again when she saw no answer, and the room must end with the
// sanction on bob's account, the act logged at least once and at most
// once per attempt, and bob's connections closed (ban, kick) or his sends
// refused (mute).

import (
	"context"
	"slices"

	"github.com/groupchat/groupchat/contract"
	"github.com/groupchat/groupchat/lambda/chat"
)

// sanctioned is an act a scenario made on an account.
type sanctioned struct {
	act     string
	account string
	sent    *sentFrame
}

func init() {
	crashScenarios = append(crashScenarios,
		crashScenario{route: "$default", what: "carol-bans-bob", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
			return r.moderates("ban", "b1", `,"account":"bob","reason":"crash"`, true)
		}},
		crashScenario{route: "$default", what: "carol-bans-bob-once", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
			return r.actsOnce("ban")
		}},
		crashScenario{route: "$default", what: "carol-kicks-bob-once", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
			return r.actsOnce("kick")
		}},
		crashScenario{route: "$default", what: "carol-kicks-bob", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
			return r.moderates("kick", "k1", `,"account":"bob"`, true)
		}},
		crashScenario{route: "$default", what: "carol-mutes-bob", signed: true, start: func(r *crashRoom) (func(context.Context), func(bool)) {
			return r.moderates("mute", "m1", `,"account":"bob","minutes":5`, false)
		}})
}

// moderates makes carol a moderator and has her act on bob; closes: the
// act closes bob's connections, whose $disconnect then runs.
func (r *crashRoom) moderates(act, ref, fields string, closes bool) (func(context.Context), func(bool)) {
	carol := r.conn("carol", "")
	r.h.MakeModerator(carol.id)
	var bobs []*crashConn
	for _, c := range r.conns {
		if c.open && c.person.key == "bob" {
			bobs = append(bobs, c)
		}
	}
	invoke, after := r.retried(carol, act, ref, fields, contract.FrameModerated)
	r.sanctioned = append(r.sanctioned, sanctioned{act: act, account: "bob", sent: r.sent[len(r.sent)-1]})
	return invoke, func(killed bool) {
		after(killed)
		r.drain()
		closed := r.h.GW.Closed()
		for _, c := range bobs {
			if slices.Contains(closed, c.id) != closes {
				r.problem("moderation", "%s closed %v after %s, want %v", c, slices.Contains(closed, c.id), act, closes)
			}
			if closes {
				r.vanish(c)
				r.h.Invoke(context.Background(), c.id, contract.RouteDisconnect, "", nil) // API Gateway's, after the close
			}
		}
	}
}

// checkSanctions: each act left its sanction on the account (a ban
// refuses a $connect, a mute a send), logged at least once and at most
// once per attempt.
func (r *crashRoom) checkSanctions(add func(string, string, ...any)) {
	for _, s := range r.sanctioned {
		logged := 0
		for _, a := range activityLog(r.t, r.h, crashRoomName) {
			if a.Kind == chat.KindModerated && a.Act == s.act && slices.Equal(a.ToAccounts, []string{s.account}) {
				logged++
			}
		}
		if logged < 1 || logged > max(s.sent.attempts, 1) {
			add("moderation", "%s of %s, sent %d times, is logged %d times", s.act, s.account, s.sent.attempts, logged)
		}
		a, err := r.h.Store.Account(context.Background(), s.account)
		if err != nil {
			r.t.Fatal(err)
		}
		now := r.h.Now()
		switch _, banned := a.Banned(crashRoomName, now); {
		case s.act == "ban" && !banned:
			add("moderation", "%s's account is not banned after the ban", s.account)
		case s.act == "ban":
			if c, resp := r.connect(context.Background(), s.account, ""); c != nil || resp.StatusCode != 403 {
				add("moderation", "%s's $connect after the ban: %d", s.account, resp.StatusCode)
			}
		case s.act != "ban" && banned:
			add("moderation", "%s's account is banned after a %s", s.account, s.act)
		}
		if _, muted := a.Muted(crashRoomName, now); muted != (s.act == "mute") {
			add("moderation", "%s's account muted %v after a %s", s.account, muted, s.act)
		}
	}
}

// actsOnce: carol bans (or kicks) bob and never sends it again (her page
// does not by itself). Killed after the act's transaction, nobody was told
// or closed: bob's connections, marked by the act, must receive nothing of
// the room from then on, be closed by its next message and listed on no
// page that asks since (hunt24b's lost close; hunt24d's for a kick).
func (r *crashRoom) actsOnce(act string) (func(context.Context), func(bool)) {
	carol := r.conn("carol", "")
	r.h.MakeModerator(carol.id)
	var bobs []*crashConn
	for _, c := range r.conns {
		if c.open && c.person.key == "bob" {
			bobs = append(bobs, c)
		}
	}
	do := func(ctx context.Context) { r.send(ctx, carol, `{"action":"`+act+`","account":"bob","reason":"crash"}`) }
	return do, func(bool) {
		ctx := context.Background()
		r.drain()
		a, err := r.h.Store.Account(ctx, "bob")
		if err != nil {
			r.t.Fatal(err)
		}
		_, done := a.Banned(crashRoomName, r.h.Now())
		if act == "kick" {
			done = slices.ContainsFunc(activityLog(r.t, r.h, crashRoomName), func(a activityRecord) bool {
				return a.Kind == chat.KindModerated && a.Act == act && slices.Equal(a.ToAccounts, []string{"bob"})
			})
		}
		if done {
			r.h.Settle() // a moment later: the room index has the act's mark
			const text = "after the act"
			r.send(ctx, carol, `{"action":"sendPublic","message":"`+text+`"}`)
			r.send(ctx, carol, `{"action":"hello"}`)
			r.drain()
			closed := r.h.GW.Closed()
			for _, c := range bobs {
				if slices.ContainsFunc(c.frames, func(f frame) bool { return f.Type == "public" && f.Message == text }) {
					r.problem("moderation", "%s got the room's message after the %s", c, act)
				}
				if !slices.Contains(closed, c.id) {
					r.problem("moderation", "%s is still open after the %s and the room's next message", c, act)
				}
			}
			if slices.Contains(carol.page.Names(), "bob") {
				r.problem("moderation", "carol's page lists bob after the %s: %v", act, carol.page.Names())
			}
		}
		closed := r.h.GW.Closed()
		for _, c := range bobs {
			if slices.Contains(closed, c.id) {
				r.vanish(c)
				r.h.Invoke(ctx, c.id, contract.RouteDisconnect, "", nil) // API Gateway's, after the close
			}
		}
	}
}
