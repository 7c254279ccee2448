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
	requireDetectedQuickly(t, Weekly, Spike1, []int{1, 3, 5, 7}, func(s *Series) {
		require.Contains(t, s.Params, "weekend batch", "the premise: a weekend-batch series")
	})
}

// A one-sample spike of three times a CPU's utilisation: its return is a step as large, which
// the engine's steps channel scores above the evidence held for the spike; the hold must go on
// underneath for the alert's `for:` clause (anomaly's score). These two were missed when it
// did not (BENCHMARKS.md, the steps channel).
func TestEngineHoldsASpikeWhoseReturnIsAStep(t *testing.T) {
	requireDetectedQuickly(t, CPU, Spike1, []int{3, 7}, nil)
}

// requireDetectedQuickly scores the catalogue's series of kind k and failure f at the given
// indexes with the engine's defaults and the shipped rule, and requires each detected within
// QuickSteps; premise, if not nil, checks each series first.
func requireDetectedQuickly(t *testing.T, k Kind, f Failure, indexes []int, premise func(*Series)) {
	t.Helper()
	spec, err := anomaly.Compile(anomaly.Config{})
	require.NoError(t, err)
	o := DefaultOptions()
	for _, i := range indexes {
		s, err := Generate(o, Case{k, f, i})
		require.NoError(t, err)
		if premise != nil {
			premise(s)
		}
		out, err := Score(s, Models(spec)(s), ShippedRule, o.Warmup)
		require.NoError(t, err)
		require.True(t, out.Detected && out.Delay <= QuickSteps, "%v: detected %v after %d steps", s.Case, out.Detected, out.Delay)
	}
}
