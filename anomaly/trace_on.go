//go:build kizashitrace

package anomaly

// tracing reports whether this build traces every sample's channels: it does, with the
// kizashitrace tag (go run -tags kizashitrace ./internal/tools/channeltrace).
const tracing = true

// Trace is what score made of one sample, channel by channel (see channelTrace).
type Trace = channelTrace

// TraceHook, when set, is called with every scored sample of every model, from the goroutine
// that called Update (models updated concurrently call it concurrently).
var TraceHook func(*Model, *Trace)

func traceSample(m *Model, t *channelTrace) {
	if TraceHook != nil {
		TraceHook(m, t)
	}
}
