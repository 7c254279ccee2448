package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// scripted is a detector whose score at step i is score(i) (ready from step 0); steps with no
// sample publish it too when missing is set.
type scripted struct {
	start   time.Time
	score   func(i int) float64
	reason  anomaly.Reason
	missing bool
}

func (d *scripted) result(t time.Time) anomaly.Result {
	s := d.score(int(t.Sub(d.start) / time.Minute))
	r := anomaly.Result{Score: s, Ready: true}
	if s >= anomaly.ReasonMinScore {
		r.Reason = d.reason
	}
	return r
}

func (d *scripted) Update(t time.Time, _ float64) anomaly.Result { return d.result(t) }
func (d *scripted) Missing(t time.Time) (anomaly.Result, bool) {
	if !d.missing {
		return anomaly.Result{}, false
	}
	return d.result(t), true
}

// handmade is a series of n steps with its failure at onset (-1: a control), all samples present
// up to have.
func handmade(n, onset, have int) *Series {
	s := &Series{Case: Case{Smooth, Drop50, 0}, Start: time.Unix(epoch, 0).UTC(), Step: time.Minute,
		Values: make([]float64, have), Onset: onset, End: n}
	if onset < 0 {
		s.Failure = None
	}
	return s
}

func TestScoreDetection(t *testing.T) {
	const warm = 100
	for _, tc := range []struct {
		name      string
		s         *Series
		score     func(i int) float64
		missing   bool
		want      Outcome
		wantMaxSc float64
	}{
		{
			name: "fires at the third step of the onset", s: handmade(600, 300, 600),
			score: func(i int) float64 { return b2f(i >= 300) },
			want:  Outcome{Detected: true, Delay: 2, Reason: anomaly.ReasonSpike, MaxScore: 1, Reasons: 1 << anomaly.ReasonSpike},
		},
		{
			name: "never fires", s: handmade(600, 300, 600), score: func(int) float64 { return 0.6 },
			want: Outcome{MaxScore: 0.6, Reasons: 1 << anomaly.ReasonSpike, Exceed: [3]int{200, 0, 0}},
		},
		{
			name: "the threshold is exclusive", s: handmade(600, 300, 600), score: func(int) float64 { return 0.65 },
			want: Outcome{MaxScore: 0.65, Reasons: 1 << anomaly.ReasonSpike, Exceed: [3]int{200, 0, 0}},
		},
		{
			// A false alarm before the onset keeps firing 10 minutes into the failure, but its
			// expression no longer holds: no detection.
			name: "keep_firing_for of an earlier alarm is not a detection", s: handmade(600, 300, 600),
			score: func(i int) float64 { return b2f(i >= 290 && i < 300) },
			want:  Outcome{FAEpisodes: 1, Exceed: [3]int{10, 10, 10}},
		},
		{
			// An alarm pending before the onset that the failure keeps true fires after it.
			name: "pending across the onset", s: handmade(600, 300, 600),
			score: func(i int) float64 { return b2f(i >= 299) },
			want:  Outcome{Detected: true, Delay: 1, Reason: anomaly.ReasonSpike, MaxScore: 1, Reasons: 1 << anomaly.ReasonSpike, Exceed: [3]int{1, 1, 1}},
		},
		{
			name: "late detection", s: handmade(600, 300, 600), score: func(i int) float64 { return b2f(i >= 400) },
			want: Outcome{Detected: true, Delay: 102, Reason: anomaly.ReasonSpike, MaxScore: 1, Reasons: 1 << anomaly.ReasonSpike},
		},
		{
			// Firing since step 2: an episode that started in the warm-up is not counted.
			name: "a vanished series publishes nothing", s: handmade(600, 300, 300), score: func(int) float64 { return 1 },
			want: Outcome{Exceed: [3]int{200, 200, 200}},
		},
		{
			name: "a detector that reports the vanished series", s: handmade(600, 300, 300), missing: true,
			score: func(i int) float64 { return b2f(i >= 300) },
			want:  Outcome{Detected: true, Delay: 2, Reason: anomaly.ReasonSpike, MaxScore: 1, Reasons: 1 << anomaly.ReasonSpike},
		},
		{
			// Episodes: steps 150-159 (one), 200-202 and 205 (one: within keep_firing_for),
			// 240-241 (never fires); samples before the warm-up do not count.
			name: "false-alarm episodes after the warm-up", s: handmade(600, -1, 600),
			score: func(i int) float64 {
				return b2f(i >= 50 && i < 60 || i >= 150 && i < 160 || i >= 200 && i < 203 || i == 205 || i == 240 || i == 241)
			},
			want: Outcome{FAEpisodes: 2, Exceed: [3]int{16, 16, 16}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &scripted{start: tc.s.Start, score: tc.score, reason: anomaly.ReasonSpike, missing: tc.missing}
			o, err := Score(tc.s, d, ShippedRule, warm*time.Minute)
			require.NoError(t, err)
			want := tc.want
			want.Case = tc.s.Case
			if tc.s.Onset >= 0 {
				want.Onset = tc.s.Start.Add(time.Duration(tc.s.Onset) * time.Minute)
				want.FASteps = tc.s.Onset - warm
			} else {
				want.FASteps = tc.s.End - warm
			}
			want.Samples = min(len(tc.s.Values), want.FASteps+warm) - warm
			require.Equal(t, want, o)
		})
	}
	_, err := Score(handmade(10, -1, 10), &scripted{score: func(int) float64 { return 0 }}, Rule{Interval: 30 * time.Second}, 0)
	require.ErrorContains(t, err, "once per step")
}

// oracle fires from every onset on (and reports vanished series); silent never fires.
func oracle(s *Series) Detector {
	return &scripted{start: s.Start, missing: true, reason: anomaly.ReasonLevelShift,
		score: func(i int) float64 { return b2f(s.Onset >= 0 && i >= s.Onset) }}
}

func silent(s *Series) Detector {
	return &scripted{start: s.Start, score: func(int) float64 { return 0 }}
}

func TestRunWithOracles(t *testing.T) {
	r := Run{Options: small(), Rule: ShippedRule, New: oracle}
	outs, err := r.Do(context.Background())
	require.NoError(t, err)
	require.Len(t, outs, len(r.Cases()))
	rep := Summarise(r, "oracle", outs)
	require.Len(t, rep.Cells, len(Kinds())*len(Failures())-len(Exclusions()))
	for _, c := range rep.Cells {
		require.Equal(t, []int{1, 1, 1, 1}, []int{c.Series, c.Detected, c.Quick, c.Bar}, "%s/%s", c.Kind, c.Failure)
		require.Equal(t, 2.0, c.MedianDelay)
		require.Equal(t, map[string]int{"level_shift": 1}, c.Reasons)
	}
	require.Equal(t, rep.Overall.All.Series, rep.Overall.All.Bar)
	require.Equal(t, len(Kinds()), len(rep.Kinds))
	for _, k := range rep.Kinds {
		require.Equal(t, 1, k.Controls)
		require.Zero(t, k.FAEpisodes)
		require.InDelta(t, float64(small().Days-1)/7, k.SeriesWeeks, 1e-9)
	}
	require.Equal(t, Calibration{Ratio: 1, MaxKind: Smooth, MinKind: Smooth}, rep.Calibration)

	r.New = silent
	outs, err = r.Do(context.Background())
	require.NoError(t, err)
	rep = Summarise(r, "silent", outs)
	require.Zero(t, rep.Overall.All.Detected)
	for _, c := range rep.Cells {
		require.Equal(t, -1.0, c.MedianDelay)
	}
	var b bytes.Buffer
	require.NoError(t, rep.Markdown(&b))
	require.Contains(t, b.String(), "| smooth | 0% / 0% | 0% / 0% | 0% |")
}

// The real engine, end to end on a small catalogue: the outcomes do not depend on the number
// of workers, and the report adds up.
func TestRunEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the engine over days of series")
	}
	spec, err := anomaly.Compile(anomaly.Config{})
	require.NoError(t, err)
	r := Run{Options: small(), Rule: ShippedRule, New: Models(spec), Kinds: []Kind{Smooth, Rate5m, Sparse},
		Failures: []Failure{None, Drop0, Stuck, Vanish}, Workers: 1}
	one, err := r.Do(context.Background())
	require.NoError(t, err)
	r.Workers = 3
	three, err := r.Do(context.Background())
	require.NoError(t, err)
	require.Equal(t, one, three)
	rep := Summarise(r, "defaults", one)
	// Rate5m has no stuck cell, Sparse no drop0.
	require.Len(t, rep.Cells, 3*3-2)
	for _, c := range rep.Cells {
		if c.Failure == Vanish && c.Kind == Smooth {
			require.Equal(t, c.Series, c.Detected, "a series that never missed a step is missed within steps")
			require.Equal(t, map[string]int{"vanished": c.Series}, c.Reasons)
		}
	}
	var b bytes.Buffer
	require.NoError(t, rep.Markdown(&b))
	require.NoError(t, Details(&b, one))
	require.Contains(t, b.String(), "rate5m/vanish/0")
}

func TestRunRejects(t *testing.T) {
	r := Run{Options: small(), Rule: ShippedRule}
	_, err := r.Do(context.Background())
	require.ErrorContains(t, err, "no detector")
	r.New = silent
	r.Kinds = []Kind{"nope"}
	_, err = r.Do(context.Background())
	require.ErrorContains(t, err, "unknown kind")
	r.Kinds, r.Failures = nil, []Failure{"nope"}
	_, err = r.Do(context.Background())
	require.ErrorContains(t, err, "unknown failure")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Failures = nil
	_, err = r.Do(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestCompare(t *testing.T) {
	r := Run{Options: small(), Rule: ShippedRule, Kinds: []Kind{Smooth, Counts}, New: oracle}
	outs, err := r.Do(context.Background())
	require.NoError(t, err)
	good := Summarise(r, "oracle", outs)
	r.New = silent
	outs, err = r.Do(context.Background())
	require.NoError(t, err)
	bad := Summarise(r, "silent", outs)

	// Through JSON, as -compare reads it.
	js, err := json.Marshal(good)
	require.NoError(t, err)
	var old Report
	require.NoError(t, json.Unmarshal(js, &old))
	var b bytes.Buffer
	require.NoError(t, Compare(&b, &old, good))
	require.Contains(t, b.String(), "no cell changed")
	b.Reset()
	require.NoError(t, Compare(&b, &old, bad))
	out := b.String()
	require.Contains(t, out, "engine: oracle -> silent")
	require.Contains(t, out, "smooth/drop50          100% / 100% · 2m -> 0% / 0%")
	require.Contains(t, out, "overall at the bar 100% -> 0%")
	require.Contains(t, out, "class drop50           at the bar 100% -> 0%, within 4h 100% -> 0%")
	require.NotContains(t, out, "warning")
	old.Options.Seed++
	b.Reset()
	require.NoError(t, Compare(&b, &old, bad))
	require.True(t, strings.HasPrefix(b.String(), "warning: different catalogues"))
}

func TestCalibrate(t *testing.T) {
	k := func(name string, n, samples int) KindSummary {
		return KindSummary{Group: Group{Name: name}, Samples: samples, Exceed: [3]int{0, n, 0}}
	}
	require.Equal(t, Calibration{Ratio: 4, MaxKind: "a", MinKind: "b"}, calibrate([]KindSummary{k("a", 8, 1000), k("b", 2, 1000), k("c", 0, 0)}))
	require.Equal(t, Calibration{Infinite: true, MaxKind: "a", MinKind: "b"}, calibrate([]KindSummary{k("a", 8, 1000), k("b", 0, 1000)}))
	require.Equal(t, Calibration{}, calibrate([]KindSummary{k("a", 8, 1000)}))
}
