package load

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Main is cmd/load: it parses args, runs, prints the summary to stdout and
// progress to stderr, writes -json, and returns the exit code: 0 when every
// message was delivered completely, 1 when not, 2 when the run could not be
// made.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: load -url ws://127.0.0.1:8080/local [flags]\n\n"+
			"Opens -clients WebSocket clients in rooms of -room-size, sends -rate public messages per second\n"+
			"for -duration (or -broadcasts messages one at a time), and checks that every accepted message\n"+
			"reached every member of its room exactly once and nobody else. Exit status: 0 complete,\n"+
			"1 incomplete, 2 the run could not be made.\n\n")
		fs.PrintDefaults()
	}
	var (
		cfg      Config
		jsonOut  string
		tokenURL string
		quiet    bool
		timeout  time.Duration
	)
	fs.StringVar(&cfg.URL, "url", "", "the stage's WebSocket URL without a query (ws://127.0.0.1:8080/local, wss://…/<stage>); required")
	fs.IntVar(&cfg.Clients, "clients", 10, fmt.Sprintf("WebSocket clients to open (at most %d)", MaxClients))
	fs.IntVar(&cfg.RoomSize, "room-size", 10, "clients per room")
	fs.StringVar(&cfg.RoomPrefix, "room-prefix", "", "rooms are <prefix>-<n> (default load-<run id>)")
	fs.Float64Var(&cfg.Rate, "rate", 10, "public messages per second in total (steady mode)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, fmt.Sprintf("how long to send (steady mode; at most %s)", MaxDuration))
	fs.IntVar(&cfg.Broadcasts, "broadcasts", 0, "broadcast mode: send this many messages one at a time, each after the previous one was delivered")
	fs.IntVar(&cfg.MessageSize, "size", 64, "message text length in bytes")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", 32, "handshakes in flight")
	fs.DurationVar(&cfg.Settle, "settle", 500*time.Millisecond, "quiet time before sending (lets the joined frames pass)")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "how long to wait for deliveries after the last message")
	fs.Float64Var(&cfg.VanishFraction, "vanish", 0, "fraction (0-1) of clients that drop without a close frame during the run")
	fs.DurationVar(&cfg.VanishAfter, "vanish-after", 0, "when they drop, after the sending started")
	fs.StringVar(&tokenURL, "token-url", "", "sign each client in with an ID token from this endpoint (GET URL?user=<client>&create=1): the local stack's http://127.0.0.1:8080/_local/token with -auth cognito")
	fs.DurationVar(&cfg.Hold, "hold", 0, "keep the clients connected this long after the last delivery (to look at the full room)")
	fs.StringVar(&cfg.Run, "run", "", "run id: clients are named l<run>-<n> (default random)")
	fs.StringVar(&jsonOut, "json", "", "also write the result as JSON to this file")
	fs.BoolVar(&quiet, "q", false, "no progress lines on stderr")
	fs.DurationVar(&timeout, "timeout", 0, "end the run after this long whatever its phase (default: duration + 10m)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "load: unexpected arguments %q (flags only; -h lists them)\n", fs.Args())
		return 2
	}
	if tokenURL != "" {
		token, err := TokenFromURL(tokenURL)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		cfg.Token = token
	}
	if !quiet {
		cfg.Progress = stderr
	}
	if timeout <= 0 {
		timeout = cfg.Duration + cfg.Hold + 10*time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := Run(ctx, cfg)
	if res != nil {
		res.WriteSummary(stdout)
		if jsonOut != "" {
			if werr := writeJSONFile(jsonOut, res); werr != nil {
				fmt.Fprintln(stderr, "load:", werr)
				return 2
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if !res.Complete {
		return 1
	}
	return 0
}

func writeJSONFile(name string, res *Result) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("write the result: %w", err)
	}
	if err := res.WriteJSON(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("write the result to %s: %w", name, err)
	}
	return f.Close()
}
