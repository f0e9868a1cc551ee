package load

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestConfigDefaultsAreTheDocumentedOnes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"zero values", Config{URL: "ws://127.0.0.1/local", Run: "r1"}},
		{"negative values", Config{URL: "ws://127.0.0.1/local", Run: "r1", Clients: -1, RoomSize: -1, Rate: -1,
			Duration: -1, MessageSize: -1, ConnectConcurrency: -1, ConnectTimeout: -1, Settle: -1, SettleMax: -1,
			Drain: -1, ProgressEvery: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			want := Config{URL: "ws://127.0.0.1/local", Run: "r1", RoomPrefix: "load-r1", Clients: 10, RoomSize: 10,
				Rate: 10, Duration: 10 * time.Second, MessageSize: 64, ConnectConcurrency: 32,
				ConnectTimeout: 30 * time.Second, Settle: 500 * time.Millisecond, SettleMax: 5 * time.Minute,
				Drain: 10 * time.Second, ProgressEvery: time.Second}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("defaults\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestConfigKeepsWhatItIsGiven(t *testing.T) {
	t.Parallel()
	cfg := Config{URL: "wss://x.example/prod", Run: "r1", RoomPrefix: "p", Clients: 3, RoomSize: 2, Rate: 0.5,
		Duration: time.Minute, MessageSize: 100, ConnectConcurrency: 1, ConnectTimeout: time.Second,
		Settle: time.Millisecond, SettleMax: time.Second, Drain: time.Second, ProgressEvery: time.Minute}
	got, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("withDefaults changed\n%+v\ninto\n%+v", cfg, got)
	}
}

// TestSendingWaitsASettleAfterTheLastHandshake: the last people to join a
// big room are sent no frame, so a room quiet for a while is not settled
// until Settle has passed since the last handshake too (else the first
// message goes out inside the room index's lag and misses them).
func TestSendingWaitsASettleAfterTheLastHandshake(t *testing.T) {
	cfg, err := Config{URL: "ws://127.0.0.1:1", Clients: 1, Settle: 300 * time.Millisecond}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(cfg)
	r.t.lastFrame = time.Now().Add(-time.Hour) // no frame for an hour
	r.connectedAt = time.Now()
	r.settle(context.Background())
	if quiet := time.Since(r.connectedAt); quiet < cfg.Settle {
		t.Errorf("sending would start %v after the last handshake, want at least %v", quiet, cfg.Settle)
	}
}
