package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/kizashi-dev/kizashi/datasource/pkg/prom"
)

// Resource paths the query editor calls (GET, JSON arrays of strings):
//
//	/metrics?match[]=...               metric names
//	/labels?match[]=...                label names
//	/label-values?label=L&match[]=...  values of label L
//	/queries                           query names the exporter publishes (kizashi_query)
//
// start and end (Unix seconds) bound the look-up; the default is the last 6 hours.
func newResourceHandler(d *Datasource) backend.CallResourceHandler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", d.lookup(func(ctx context.Context, r *http.Request, start, end time.Time) ([]string, error) {
		return d.prom.LabelValues(ctx, "__name__", r.URL.Query()["match[]"], start, end)
	}))
	mux.HandleFunc("GET /labels", d.lookup(func(ctx context.Context, r *http.Request, start, end time.Time) ([]string, error) {
		return d.prom.LabelNames(ctx, r.URL.Query()["match[]"], start, end)
	}))
	mux.HandleFunc("GET /label-values", d.lookup(func(ctx context.Context, r *http.Request, start, end time.Time) ([]string, error) {
		label := r.URL.Query().Get("label")
		if label == "" {
			return nil, errBadRequest{errors.New("label is required")}
		}
		return d.prom.LabelValues(ctx, label, r.URL.Query()["match[]"], start, end)
	}))
	mux.HandleFunc("GET /queries", d.lookup(func(ctx context.Context, _ *http.Request, start, end time.Time) ([]string, error) {
		return d.prom.LabelValues(ctx, exportedQueryLabel, []string{exportedAny}, start, end)
	}))
	return httpadapter.New(mux)
}

// CallResource serves the query editor's look-ups.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

type errBadRequest struct{ error }

func (d *Datasource) lookup(fn func(ctx context.Context, r *http.Request, start, end time.Time) ([]string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d.settingsErr != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": d.settingsErr.Error()}) // redacted
			return
		}
		end, start := d.now(), d.now().Add(-6*time.Hour)
		for _, p := range []struct {
			name string
			dst  *time.Time
		}{{"start", &start}, {"end", &end}} {
			if s := r.URL.Query().Get(p.name); s != "" {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
					writeJSON(w, http.StatusBadRequest, map[string]string{"error": p.name + ": want Unix seconds"})
					return
				}
				*p.dst = time.Unix(0, int64(f*1e9))
			}
		}
		out, err := fn(r.Context(), r, start, end)
		if err != nil {
			status := http.StatusBadGateway
			if errors.As(err, new(errBadRequest)) || errors.Is(err, prom.ErrLabelName) {
				status = http.StatusBadRequest
			}
			writeJSON(w, status, map[string]string{"error": d.redact(err.Error())})
			return
		}
		slices.Sort(out)
		if out == nil {
			out = []string{}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing left to tell it
}
