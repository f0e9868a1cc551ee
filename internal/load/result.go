package load

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"
)

// Result is what a run measured; cmd/load writes it as JSON with -json.
type Result struct {
	Run       string    `json:"run"`
	URL       string    `json:"url"`
	Mode      string    `json:"mode"` // steady or broadcast
	Clients   int       `json:"clients"`
	Rooms     int       `json:"rooms"`
	RoomSize  int       `json:"roomSize"`
	StartedAt time.Time `json:"startedAt"`
	Seconds   float64   `json:"seconds"` // the whole run

	Connect ConnectResult `json:"connect"`
	// Fill is what filling the rooms cost: the frames the clients received
	// from the first handshake until the room was quiet (presence).
	Fill FillResult `json:"fill"`
	// SendSeconds is how long the sending phase took; AchievedRate the
	// messages per second actually sent (steady mode).
	SendSeconds  float64 `json:"sendSeconds"`
	TargetRate   float64 `json:"targetRate,omitempty"`
	AchievedRate float64 `json:"achievedRate,omitempty"`

	Messages   MessageResult  `json:"messages"`
	Deliveries DeliveryResult `json:"deliveries"`
	// LatencyMS is the time from sending a message to each member's
	// receiving it (the sender's own copy included), in milliseconds.
	LatencyMS Percentiles `json:"latencyMs"`
	// BroadcastMS is, in broadcast mode, for each broadcast the time until
	// the last member had it (-1: not every member did).
	BroadcastMS []float64   `json:"broadcastMs,omitempty"`
	Frames      FrameResult `json:"frames"`

	Vanished     int `json:"vanished"`     // clients dropped on purpose without a close frame
	Disconnected int `json:"disconnected"` // clients whose connection ended without the tool closing it

	// Complete: every message was accepted and reached every member of its
	// room (live when it was sent) exactly once, and nobody else.
	Complete bool `json:"complete"`
}

// ConnectResult describes the connect phase.
type ConnectResult struct {
	Connected  int         `json:"connected"`
	Failed     int         `json:"failed"`
	FirstError string      `json:"firstError,omitempty"`
	Seconds    float64     `json:"seconds"`
	PerSecond  float64     `json:"perSecond"`
	LatencyMS  Percentiles `json:"latencyMs"` // one handshake, $connect included
}

// FillResult describes filling the rooms: connect and settle.
type FillResult struct {
	Seconds float64 `json:"seconds"` // from the first handshake until the stack was quiet
	// Frames is every frame the clients received meanwhile: the presence
	// of the fill, the deliveries it cost.
	Frames int            `json:"frames"`
	ByType map[string]int `json:"byType"`
	// PerMember is Frames over the clients connected.
	PerMember float64 `json:"perMember"`
}

// MessageResult counts the messages sent.
type MessageResult struct {
	Sent     int `json:"sent"`
	Accepted int `json:"accepted"` // the sender's copy or any member's copy arrived
	Rejected int `json:"rejected"` // answered with an error frame
	// RejectedByCode counts the rejections by error code.
	RejectedByCode map[string]int `json:"rejectedByCode,omitempty"`
	// Unconfirmed messages got neither a copy nor an error by the end.
	Unconfirmed int `json:"unconfirmed"`
	SendFailed  int `json:"sendFailed"` // the tool could not write them
}

// DeliveryResult checks every accepted message against its room.
type DeliveryResult struct {
	Expected     int `json:"expected"`     // members live when an accepted message was sent
	Delivered    int `json:"delivered"`    // of those, received
	Lost         int `json:"lost"`         // of those, never received
	Duplicates   int `json:"duplicates"`   // copies received more than once
	Misdelivered int `json:"misdelivered"` // copies received by someone outside the room
	Excused      int `json:"excused"`      // not awaited: the member vanished or was disconnected first
	// LostByClient names the clients that missed messages.
	LostByClient map[string]int `json:"lostByClient,omitempty"`
}

// FrameResult counts the frames received while sending (the connect
// phase's joined frames are not counted).
type FrameResult struct {
	Total         int            `json:"total"`
	ByType        map[string]int `json:"byType"`
	Foreign       int            `json:"foreign"`       // public messages of other clients
	GatewayErrors int            `json:"gatewayErrors"` // API Gateway's own {"message":"Internal server error"}
	NotJSON       int            `json:"notJson"`
}

// Percentiles of a set of durations, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return ms(s[max(i, 0)])
	}
	return Percentiles{Count: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// WriteJSON writes the result, indented.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteSummary writes the result for people.
func (r *Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "run %s: %s, %d clients in %d rooms of %d, against %s\n",
		r.Run, r.Mode, r.Clients, r.Rooms, r.RoomSize, r.URL)
	c := r.Connect
	fmt.Fprintf(w, "connect     %d connected, %d failed in %.1fs (%.0f/s); handshake p50 %.1fms p99 %.1fms max %.1fms\n",
		c.Connected, c.Failed, c.Seconds, c.PerSecond, c.LatencyMS.P50, c.LatencyMS.P99, c.LatencyMS.Max)
	if c.FirstError != "" {
		fmt.Fprintf(w, "            first error: %s\n", c.FirstError)
	}
	fmt.Fprintf(w, "fill        %d frames while filling in %.1fs (%.2f per member) %v\n",
		r.Fill.Frames, r.Fill.Seconds, r.Fill.PerMember, sortedCounts(r.Fill.ByType))
	m := r.Messages
	rate := ""
	if r.Mode == "steady" {
		rate = fmt.Sprintf(" (%.1f/s of %.1f/s)", r.AchievedRate, r.TargetRate)
	}
	fmt.Fprintf(w, "messages    %d sent in %.1fs%s, %d accepted, %d rejected %v, %d unconfirmed, %d not sent\n",
		m.Sent, r.SendSeconds, rate, m.Accepted, m.Rejected, sortedCounts(m.RejectedByCode), m.Unconfirmed, m.SendFailed)
	d := r.Deliveries
	fmt.Fprintf(w, "deliveries  %d of %d expected, %d lost, %d duplicates, %d misdelivered, %d excused\n",
		d.Delivered, d.Expected, d.Lost, d.Duplicates, d.Misdelivered, d.Excused)
	l := r.LatencyMS
	fmt.Fprintf(w, "latency     p50 %.1fms  p95 %.1fms  p99 %.1fms  max %.1fms  (%d deliveries)\n", l.P50, l.P95, l.P99, l.Max, l.Count)
	if len(r.BroadcastMS) > 0 {
		fmt.Fprintf(w, "broadcasts  time until the last member had it (ms): %v\n", r.BroadcastMS)
	}
	fmt.Fprintf(w, "frames      %d while sending %v, %d gateway errors, %d not JSON; %d vanished, %d disconnected\n",
		r.Frames.Total, sortedCounts(r.Frames.ByType), r.Frames.GatewayErrors, r.Frames.NotJSON, r.Vanished, r.Disconnected)
	verdict := "COMPLETE: every accepted message reached every member of its room exactly once, and nobody else"
	if !r.Complete {
		verdict = "INCOMPLETE: see the counts above"
	}
	fmt.Fprintln(w, verdict)
}

func sortedCounts(m map[string]int) string {
	if len(m) == 0 {
		return "{}"
	}
	s := "{"
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s:%d", k, m[k])
	}
	return s + "}"
}
