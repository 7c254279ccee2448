package catalog

import (
	"testing"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/stretchr/testify/require"
)

// A one-sample spike of three times a weekday's value on a series with weekend batches (the
// odd indexes of the weekend-step kind): the batches start with steep ramps, whose residuals
// make the engine's tail of single samples heavy, so that the spike is not extreme to it; its
// step is far beyond any the series took, and the engine holds it for the alert's `for:`
// clause on that account (anomaly's score). These four were missed before (BENCHMARKS.md,
// 2026-12-07).
func TestEngineHoldsASpikeOnAWeekendBatchSeries(t *testing.T) {
	spec, err := anomaly.Compile(anomaly.Config{})
	require.NoError(t, err)
	o := DefaultOptions()
	for _, i := range []int{1, 3, 5, 7} {
		s, err := Generate(o, Case{Weekly, Spike1, i})
		require.NoError(t, err)
		require.Contains(t, s.Params, "weekend batch", "the premise: a weekend-batch series")
		out, err := Score(s, Models(spec)(s), ShippedRule, o.Warmup)
		require.NoError(t, err)
		require.True(t, out.Detected && out.Delay <= QuickSteps, "%v: detected %v after %d steps", s.Case, out.Detected, out.Delay)
	}
}

// A one-sample spike of three times a CPU's utilisation: its return is a step as large, which
// the engine's steps channel scores above the evidence held for the spike; the hold must go on
// underneath for the alert's `for:` clause (anomaly's score). These two were missed when it
// did not (BENCHMARKS.md, the steps channel).
func TestEngineHoldsASpikeWhoseReturnIsAStep(t *testing.T) {
	spec, err := anomaly.Compile(anomaly.Config{})
	require.NoError(t, err)
	o := DefaultOptions()
	for _, i := range []int{3, 7} {
		s, err := Generate(o, Case{CPU, Spike1, i})
		require.NoError(t, err)
		out, err := Score(s, Models(spec)(s), ShippedRule, o.Warmup)
		require.NoError(t, err)
		require.True(t, out.Detected && out.Delay <= QuickSteps, "%v: detected %v after %d steps", s.Case, out.Detected, out.Delay)
	}
}
