package ddbproxy

import (
	"testing"
	"time"

	"github.com/groupchat/groupchat/internal/testkit"
)

// A test that injects one hook still runs on a proxy as unkind as AWS: the
// hook goes on top of the defaults, and Restore returns to them, not to a
// transparent proxy.
func TestAHookInjectedKeepsTheAWSLikeDefaultsAndRestoreReturnsToThem(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, AWSLike())
	var asked int
	fx.proxy.Inject(Faults{Before: func(Write) { asked++ }, IndexLag: time.Hour})
	f := fx.proxy.Faults()
	if f.Before == nil || f.IndexLag != time.Hour || f.StaleReads != AWSLike().StaleReads || !f.TransactionConflicts {
		t.Fatalf("faults after Inject = %+v; want the hook and the hour's lag over AWSLike's stale reads and conflicts", f)
	}
	fx.put(ctx, t, fx.via, conn("a", "lobby", "Alice"))
	expect(t, "lobby within the injected hour's lag", fx.members(ctx, t, "lobby"))
	if asked != 2 {
		t.Errorf("the injected Before saw %d requests; want the put and the query", asked)
	}
	fx.proxy.Restore()
	f = fx.proxy.Faults()
	if f.Before != nil || f.IndexLag != AWSLike().IndexLag || f.StaleReads != AWSLike().StaleReads || !f.TransactionConflicts {
		t.Fatalf("faults after Restore = %+v; want AWSLike's", f)
	}
	if inj := fx.proxy.Injected(); inj.Before != nil || inj.IndexLag != 0 {
		t.Errorf("Injected after Restore = %+v; want none", inj)
	}
	// The write made under the hour's lag shows within the default lag
	// now, as an index catching up.
	if err := fx.proxy.Settle(testkit.Context(t, 10*time.Second)); err != nil {
		t.Fatalf("settle after Restore: %v (the write made under the hour's lag still waits for it)", err)
	}
	expect(t, "lobby once settled after Restore", fx.members(ctx, t, "lobby"), "a=Alice")
	// And a new write lags by the default again.
	fx.put(ctx, t, fx.via, conn("b", "lobby", "Bob"))
	expect(t, "lobby right after Bob's put", fx.members(ctx, t, "lobby"), "a=Alice")
}

// An opt-out takes the test's faults alone: the defaults are off.
func TestDeterministicTurnsTheDefaultsOff(t *testing.T) {
	t.Parallel()
	ctx := testkit.Context(t, time.Minute)
	fx := newFixture(t, AWSLike())
	fx.put(ctx, t, fx.via, conn("a", "lobby", "Alice"))
	f := Deterministic("this test reads the index right after its write")
	f.Latency = time.Millisecond
	fx.proxy.Inject(f)
	got := fx.proxy.Faults()
	if got.IndexLag != 0 || got.StaleReads != 0 || got.TransactionConflicts || got.Latency != time.Millisecond {
		t.Fatalf("faults after the opt-out = %+v; want its latency alone", got)
	}
	fx.put(ctx, t, fx.via, conn("b", "lobby", "Bob"))
	expect(t, "lobby right after the puts, without the lag", fx.members(ctx, t, "lobby"), "a=Alice", "b=Bob")
	fx.proxy.Restore()
	if got := fx.proxy.Faults(); got.IndexLag != AWSLike().IndexLag || !got.TransactionConflicts {
		t.Errorf("faults after Restore = %+v; want AWSLike's", got)
	}
}

func TestAnOptOutWithoutAReasonIsRefused(t *testing.T) {
	optOut := Deterministic // (the guard holds literal reasons; this test is of the refusal)
	for _, reason := range []string{"", " \t"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Deterministic(%q) was accepted; want a panic asking why", reason)
				}
			}()
			optOut(reason)
		}()
	}
}
