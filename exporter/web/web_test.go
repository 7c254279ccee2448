package web

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.5: "0.5", 1: "1", 42.123456: "42.12", -7: "-7", 999.4: "999.4",
		999.96: "1 k", 1234: "1.234 k", 9.526e10: "95.26 G", -2.5e6: "-2.5 M", 3.2e18: "3.2 E",
		0.00123: "0.00123", 0.000123: "123 µ", 0.99996: "1", 4.5e-7: "450 n", 1e25: "1e+25", 2e-12: "2e-12",
		math.Inf(1): "+Inf", math.Inf(-1): "-Inf", math.NaN(): "–",
	} {
		require.Equal(t, want, format(v), "%g", v)
	}
}

func get(t *testing.T, h http.Handler, url string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(b)
}

// TestPages: the overview draws the forecast it promises, values are in human units, the
// pages reload every step, and a series with a high score says why.
func TestPages(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	c := queryconfig.DefaultQuery
	c.Name, c.Expr = "bytes", "x"
	c.TrainingWindow = model.Duration(2 * time.Hour)
	c.WarmUp = model.Duration(time.Hour)
	c.Timezone, c.Holidays = "Asia/Tokyo", []string{"2026-04-29", "2026-05-03..2026-05-06"}
	q, err := seriesset.New(c, seriesset.Options{Metrics: seriesset.NewMetrics(prometheus.NewRegistry()), Now: func() time.Time { return now }, ChartSeries: SeriesPerQuery})
	require.NoError(t, err)
	series := []model.Metric{{"__name__": "used", "instance": "a"}, {"__name__": "used", "instance": "b"}}
	src := fakesource.New(series, func(i int, t time.Time) float64 { return 9.5e10 + float64(i)*1e9 + float64(t.Unix()%600)*1e6 })
	ctx := context.Background()
	_, err = q.Cycle(ctx, src, now)
	require.NoError(t, err)
	_, err = q.Backfill(ctx, src)
	require.NoError(t, err)
	// b vanishes: its score rises with the reason vanished.
	src.SetSeries(series[:1])
	for i := range 3 {
		_, err = q.Cycle(ctx, src, now.Add(time.Duration(i+1)*time.Minute))
		require.NoError(t, err)
	}
	pages := New(func() []*seriesset.Query { return []*seriesset.Query{q} }, slog.New(slog.DiscardHandler))

	index := get(t, pages, "/")
	require.Contains(t, index, `<meta http-equiv="refresh" content="60">`, "reloads every step")
	require.Regexp(t, `<td>9\d\.\d+ G</td>`, index, "values with an SI prefix")
	require.NotRegexp(t, `\de\+\d`, index, "no exponent notation")
	require.Equal(t, 2, len(regexp.MustCompile(`class="forecast"`).FindAllString(index, -1)), "each overview chart draws its forecast")
	require.Contains(t, index, `<span class="reason">vanished</span>`)
	require.Contains(t, index, `· step 1m · days in Asia/Tokyo · 5 holidays ·`, "the query's calendar")

	id := regexp.MustCompile(`/series\?query=bytes&amp;id=([0-9a-f]{16})">used\{instance=&#34;b&#34;\}`).FindStringSubmatch(index)
	require.NotNil(t, id, index)
	page := get(t, pages, "/series?query=bytes&id="+id[1])
	require.Contains(t, page, `<meta http-equiv="refresh" content="60">`)
	require.Contains(t, page, `<span class="reason">(vanished)</span>`)
	require.Contains(t, page, `class="forecast"`)
	// Times in the query's zone, where its days start (b's last sample, 12:00 UTC, is 21:00 in Tokyo).
	require.Contains(t, page, `<td>2026-03-02 21:00:00 JST</td>`, "the last sample")
	require.Regexp(t, `<text class="tick"[^>]*>2026-03-0\d \d\d:\d\d JST</text>`, page, "the chart's end")
	require.NotContains(t, page, "UTC")
}
