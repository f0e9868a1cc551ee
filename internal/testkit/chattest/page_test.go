package chattest

import (
	"slices"
	"testing"
)

// The page model follows frontend/src/presence.ts: these cases mirror
// frontend/test/presence.test.ts where they overlap.
func TestPageKeepsTheListAsThePageDoes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		frames []string
		settle string
		want   []string
		count  int
	}{
		{"a state is the list", []string{`{"type":"state","members":["Ann","Bob"],"count":3}`}, "", []string{"Ann", "Bob"}, 3},
		{"a left that arrives after the rejoin it preceded is not applied", []string{
			`{"type":"state","members":["Ann","Bob"],"count":2}`,
			`{"type":"joined","name":"Ann","ts":20,"count":2}`,
			`{"type":"left","name":"Ann","ts":10,"count":1}`,
		}, "", []string{"Ann", "Bob"}, 1},
		{"a rename releases the old name and claims the new one", []string{
			`{"type":"state","members":["Ann","Bob"],"count":2}`,
			`{"type":"renamed","oldName":"Ann","name":"Cid","ts":5}`,
		}, "", []string{"Bob", "Cid"}, 2},
		{"a members frame does not bring back a name released after it", []string{
			`{"type":"state","members":["Ann","Bob"],"count":2}`,
			`{"type":"left","name":"Ann","ts":30,"count":1}`,
			`{"type":"members","members":["Ann","Bob"],"gone":["Cid"],"ts":20,"count":2}`,
		}, "", []string{"Bob"}, 2},
		{"the settle list adds whom the state missed, and undoes no frame", []string{
			`{"type":"state","members":["Bob"],"count":1}`,
			`{"type":"left","name":"Ann","ts":30,"count":1}`,
		}, `{"type":"state","members":["Ann","Bob","Cid"],"count":3}`, []string{"Bob", "Cid"}, 1},
		{"a counted room keeps its count, whatever the list", []string{
			`{"type":"state","members":["Ann","Bob"],"count":1}`,
		}, "", []string{"Ann", "Bob"}, 1},
		{"a room of a server before counts is counted by its list", []string{
			`{"type":"state","members":["Ann","Bob"]}`,
		}, `{"type":"state","members":["Ann","Bob","Cid"]}`, []string{"Ann", "Bob", "Cid"}, 3},
		{"a person's left decided before her joined is not applied, whatever the ts", []string{
			`{"type":"state","members":["Ann","Bob"],"count":2}`,
			`{"type":"joined","name":"Ann","ts":10,"count":2,"account":"a","v":7}`,
			`{"type":"left","name":"Ann","ts":20,"count":1,"account":"a","v":6}`,
		}, "", []string{"Ann", "Bob"}, 1},
		{"a person's joined decided after her left is applied, whatever the ts", []string{
			`{"type":"state","members":["Ann","Bob"],"count":2}`,
			`{"type":"left","name":"Ann","ts":20,"count":1,"account":"a","v":6}`,
			`{"type":"joined","name":"Ann","ts":10,"count":2,"account":"a","v":7}`,
		}, "", []string{"Ann", "Bob"}, 2},
		{"a pong's count is the count", []string{
			`{"type":"state","members":["Bob"],"count":1}`,
			`{"type":"pong","ts":1,"count":4}`,
		}, "", []string{"Bob"}, 4},
		{"a members frame's left entries are applied, its lagging list is not", []string{
			`{"type":"state","members":["Alice","Bob","Carol"],"count":3,"cv":10}`,
			`{"type":"renamed","oldName":"Alice","name":"Ann","ts":20}`,
			`{"type":"members","members":["Alice","Bob"],"gone":["Carol"],"left":[{"name":"Carol","ts":25}],"ts":30,"count":2,"cv":13}`,
		}, "", []string{"Ann", "Bob"}, 2},
		{"a members frame's left entry is held to the person's v", []string{
			`{"type":"state","members":["Bob","Cid"],"count":2,"cv":10}`,
			`{"type":"joined","name":"Cid","ts":10,"count":2,"cv":14,"account":"c","v":7}`,
			`{"type":"members","members":["Bob"],"gone":["Cid"],"left":[{"name":"Cid","ts":20,"account":"c","v":6}],"ts":30,"count":1,"cv":13}`,
		}, "", []string{"Bob", "Cid"}, 2},
		{"a members frame's stayed entry adds someone still in on another device", []string{
			`{"type":"state","members":["Bob"],"count":2,"cv":10}`,
			`{"type":"members","members":["Bob"],"gone":[],"left":[],"stayed":[{"name":"Dave","ts":25,"account":"d","v":5}],"ts":30,"count":2,"cv":12}`,
		}, "", []string{"Bob", "Dave"}, 2},
		{"of two people's counts arriving out of order the greater cv stands", []string{
			`{"type":"state","members":["Ann","Bob"],"count":2,"cv":10}`,
			`{"type":"left","name":"Ann","ts":30,"count":1,"cv":14}`,
			`{"type":"joined","name":"Cid","ts":20,"count":3,"cv":12}`,
		}, "", []string{"Bob", "Cid"}, 1},
		{"the settle state's count is taken when its cv is greater", []string{
			`{"type":"state","members":["Ann","Bob","Cid"],"count":4,"cv":10}`,
		}, `{"type":"state","members":["Ann","Bob","Cid"],"count":3,"cv":12}`, []string{"Ann", "Bob", "Cid"}, 3},
		{"a memberPage answers the members action: the list is not followed from it", []string{
			`{"type":"state","members":["Bob"],"count":1}`,
			`{"type":"memberPage","room":"lobby","count":2,"members":[{"name":"Bob"},{"name":"Ann"}],"ref":"m1"}`,
		}, "", []string{"Bob"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var p Page
			for _, f := range c.frames {
				if err := p.Apply([]byte(f)); err != nil {
					t.Fatal(err)
				}
			}
			if c.settle != "" {
				if err := p.Settle([]byte(c.settle)); err != nil {
					t.Fatal(err)
				}
			}
			if got := p.Names(); !slices.Equal(got, c.want) {
				t.Errorf("members %v, want %v", got, c.want)
			}
			if n, ok := p.Count(); !ok || n != c.count {
				t.Errorf("count %d (%v), want %d", n, ok, c.count)
			}
		})
	}
}

// The list read again (converge.ts, presence.ts relist): mirrors
// frontend/test/presence.test.ts's relist cases where they overlap.
func TestPageReadsItsListAgainAsThePageDoes(t *testing.T) {
	t.Parallel()
	var p Page
	for _, f := range []string{
		`{"type":"state","members":["Ann","Bob","Cid"],"count":2,"cv":10}`,
	} {
		if err := p.Apply([]byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	if !p.Disagrees() {
		t.Fatal("three names beside a count of 2 agree")
	}
	p.Asked()
	// Dot joins after the ask: the read, made before, does not list her.
	if err := p.Apply([]byte(`{"type":"joined","name":"Dot","ts":50,"count":3,"cv":14}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.Relist([]byte(`{"type":"memberPage","room":"r","count":2,"cv":12,"members":[{"name":"Ann"},{"name":"Cid"}]}`)); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Names(), []string{"Ann", "Cid", "Dot"}; !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	if n, _ := p.Count(); n != 3 || p.Disagrees() {
		t.Errorf("count %d (disagrees %v), want 3, the newer frame's", n, p.Disagrees())
	}
	if err := p.Relist([]byte(`{"type":"memberPage","count":1,"members":[]}`)); err == nil {
		t.Error("an answer the page did not ask for was applied")
	}
}
