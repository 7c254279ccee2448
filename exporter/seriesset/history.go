package seriesset

import (
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// historyLen points cover a day at a resolution of at least 5 minutes.
const historyLen = 288

// history is a ring of the last day of a series, one point per resolution interval (the last
// sample of the interval wins). About 8 KiB: kept only for a bounded number of series.
type history struct {
	res  int64 // resolution in ns
	head int   // index of the newest point
	n    int
	pts  [historyLen]histPoint
}

type histPoint struct {
	slot                   int64 // unix ns / res
	v, base, lo, hi, score float32
}

func newHistory(step time.Duration) *history {
	res := max(step, 24*time.Hour/historyLen)
	return &history{res: int64(res)}
}

func (h *history) add(t time.Time, v float64, r anomaly.Result) {
	slot := t.UnixNano() / h.res
	p := histPoint{slot: slot, v: float32(v), base: float32(r.Baseline), lo: float32(r.Lower), hi: float32(r.Upper), score: float32(r.Score)}
	if h.n > 0 && h.pts[h.head].slot == slot {
		h.pts[h.head] = p
		return
	}
	if h.n > 0 {
		h.head = (h.head + 1) % historyLen
	}
	h.pts[h.head] = p
	h.n = min(h.n+1, historyLen)
}

// points returns the history oldest first, within a day of the newest point.
func (h *history) points() []ChartPoint {
	out := make([]ChartPoint, 0, h.n)
	if h.n == 0 {
		return out
	}
	newest := h.pts[h.head].slot
	for i := h.n - 1; i >= 0; i-- {
		p := h.pts[(h.head-i+historyLen)%historyLen]
		if newest-p.slot >= historyLen {
			continue
		}
		out = append(out, ChartPoint{Time: time.Unix(0, p.slot*h.res).UTC(), Value: float64(p.v),
			Baseline: float64(p.base), Lower: float64(p.lo), Upper: float64(p.hi), Score: float64(p.score)})
	}
	return out
}
