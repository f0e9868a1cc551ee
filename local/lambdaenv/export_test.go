package lambdaenv

// SetHandedOff has f run after each event's hand-over to a runtime, before
// its answer is awaited, until the returned function is called. Only for
// tests that do not run in parallel.
func SetHandedOff(f func(event []byte, exited <-chan struct{})) (clear func()) {
	handedOff = f
	return func() { handedOff = nil }
}
