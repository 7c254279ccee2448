package evalnab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func f(v float64) *float64 { return &v }

// fake scores like nab_score.py: the optimum is 0.6 for standard and low-FN, 0.7 for low-FP;
// a score is 100 minus the distance of the threshold from 0.6, minus 10 per fold.
type fake struct {
	calls [][]string
	bad   bool // the whole half at its optimum disagrees with the optimiser
}

func (fk *fake) score(_ context.Context, args ...string) (Result, error) {
	fk.calls = append(fk.calls, args)
	th, subset := -1.0, ""
	for i := 0; i < len(args); i += 2 {
		switch args[i] {
		case "--threshold":
			th, _ = strconv.ParseFloat(args[i+1], 64)
		case "--subset":
			subset = args[i+1]
		default:
			return Result{}, errors.New("unexpected argument " + args[i])
		}
	}
	r := Result{Files: 29, Windows: 60, Profiles: map[string]Profile{}}
	if subset != "" {
		r.Files = 14
	}
	for _, p := range Profiles {
		t := th
		if th < 0 {
			t = map[string]float64{"reward_low_FP_rate": 0.7}[p]
			if t == 0 {
				t = 0.6
			}
		}
		s := 100 - 100*abs(t-0.6)
		if subset != "" {
			s -= 10
		}
		if fk.bad && th > 0 && subset == "" {
			s--
		}
		r.Profiles[p] = Profile{Score: f(s), Threshold: f(t), Detected: 50, Missed: 10, FPRows: 48}
	}
	return r, nil
}

func abs(x float64) float64 { return max(x, -x) }

func TestEvaluate(t *testing.T) {
	fk := &fake{}
	sets := []Set{{"whole half", ""}, {"fold A", "a.txt"}, {"fold B", "b.txt"}}
	rows, opt, err := Evaluate(context.Background(), fk.score, sets, 0.65)
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"standard": 0.6, "reward_low_FP_rate": 0.7, "reward_low_FN_rate": 0.6}, opt)
	require.Len(t, rows, 6)
	// Both folds are scored at the whole half's thresholds, never optimised on their own.
	for _, c := range fk.calls[1:] {
		require.Equal(t, "--threshold", c[0])
	}
	require.Contains(t, fk.calls, []string{"--threshold", "0.7", "--subset", "b.txt"})
	require.Contains(t, fk.calls, []string{"--threshold", "0.65", "--subset", "a.txt"})
	require.Len(t, fk.calls, 1+3*2+3)
	require.Equal(t, "fold A", rows[1].Set.Name)
	require.Equal(t, 90.0, *rows[1].Profiles["standard"].Score)
	require.Equal(t, 0.7, *rows[1].Profiles["reward_low_FP_rate"].Threshold)
	require.Equal(t, "0.65", rows[4].Mode)
	require.InDelta(t, 85.0, *rows[4].Profiles["reward_low_FP_rate"].Score, 1e-9)

	var b bytes.Buffer
	require.NoError(t, Markdown(&b, rows, opt))
	require.Contains(t, b.String(), "| fold B | 14 | dev-optimal | 90.00 (50/60, 48 FP) |")
	require.Contains(t, b.String(), "standard 0.6; reward_low_FP_rate 0.7;")

	_, _, err = Evaluate(context.Background(), (&fake{bad: true}).score, sets, 0.65)
	require.ErrorContains(t, err, "at its optimal threshold")
	_, _, err = Evaluate(context.Background(), fk.score, sets[1:], 0.65)
	require.ErrorContains(t, err, "whole half")
}

func TestPythonScorer(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	// A stand-in for nab_score.py that reports the arguments it got.
	script := filepath.Join(dir, "score.py")
	require.NoError(t, os.WriteFile(script, []byte(`import json, sys
a = sys.argv[1:]
out = a[a.index("--json") + 1]
if "--fail" in a:
    sys.exit("error: bad subset")
json.dump({"files": len(a), "windows": 1, "profiles": {"standard": {"score": None, "threshold": float(a[a.index("--threshold") + 1]),
    "windows_detected": 1, "windows_missed": 0, "fp_rows": 2}}}, open(out, "w"))
`), 0o644))
	s := PythonScorer(script, "res", "data", "labels.json")
	r, err := s(context.Background(), "--threshold", "0.635")
	require.NoError(t, err)
	require.Equal(t, 9, r.Files) // res --data data --labels labels.json --json F --threshold 0.635
	require.Nil(t, r.Profiles["standard"].Score)
	require.Equal(t, 0.635, *r.Profiles["standard"].Threshold)
	_, err = s(context.Background(), "--fail", "x")
	require.ErrorContains(t, err, "bad subset")
}
