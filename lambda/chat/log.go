package chat

import (
	"context"
	"log/slog"
)

// boundHandler hands every record to its handler with the invocation's
// context, so the Lambda log handler can stamp the request id on lines
// logged without a context.
type boundHandler struct {
	slog.Handler
	ctx context.Context
}

func (h boundHandler) Handle(_ context.Context, r slog.Record) error {
	return h.Handler.Handle(h.ctx, r)
}

func (h boundHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return boundHandler{h.Handler.WithAttrs(a), h.ctx}
}

func (h boundHandler) WithGroup(name string) slog.Handler {
	return boundHandler{h.Handler.WithGroup(name), h.ctx}
}

func (h boundHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.Handler.Enabled(h.ctx, l)
}
