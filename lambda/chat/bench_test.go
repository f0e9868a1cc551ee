package chat_test

import (
	"fmt"
	"testing"

	"github.com/groupchat/groupchat/internal/testkit/chattest"
)

// BenchmarkSendPublic measures the handler's cost for one sendPublic in rooms
// of 10, 100 and 1,000 members: the record, one Query of the room and one
// PostToConnection per member, against dynalite and a local management API.
// Most of the time is dynalite's and the local HTTP round trips; allocs/op
// and B/op are the handler's own.
func BenchmarkSendPublic(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("room=%d", size), func(b *testing.B) {
			h := chattest.New(b, chattest.Unlimited)
			h.GW.Discard = true
			ids := h.Populate("bench", size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.Send(ids[0], `{"action":"sendPublic","message":"benchmark message"}`)
			}
			b.ReportMetric(float64(h.GW.Posts())/float64(b.N), "posts/op")
		})
	}
}
