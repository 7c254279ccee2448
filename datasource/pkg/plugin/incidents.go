package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/kizashi-dev/kizashi/datasource/pkg/models"
	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

// webhookClient reads incidents from kizashi-webhook's REST API.
type webhookClient struct {
	base   *url.URL // the API root; request URLs are built from it, never by concatenation
	token  string
	tenant string
	hc     *http.Client
}

// decodeIncidents decodes the answer of GET /api/v1/incidents (apitypes.ListResponse, the
// webhook's own definition of it).
func decodeIncidents(r io.Reader) ([]apitypes.Incident, string, error) {
	var body apitypes.ListResponse
	if err := json.NewDecoder(r).Decode(&body); err != nil {
		return nil, "", fmt.Errorf("decode incidents: %w", err)
	}
	return body.Incidents, body.Next, nil
}

// maxIncidents bounds what one query reads from the webhook.
const maxIncidents = 5000

// incidents returns the incidents active at some time in [from, to], following the webhook's
// pages (500 incidents each, newest first).
func (w *webhookClient) incidents(ctx context.Context, from, to time.Time) ([]apitypes.Incident, error) {
	var all []apitypes.Incident
	q := w.query(from, to)
	q.Limit = 500
	for {
		page, next, err := w.page(ctx, q.Values())
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		if len(all) >= maxIncidents {
			return nil, fmt.Errorf("more than %d incidents in the time range: narrow it", maxIncidents)
		}
		q.Before = next
	}
}

func (w *webhookClient) page(ctx context.Context, q url.Values) ([]apitypes.Incident, string, error) {
	u := w.base.JoinPath(apitypes.IncidentsPath)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("incidents request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return nil, "", backend.DownstreamError(fmt.Errorf("GET /api/v1/incidents: %w", err))
	}
	defer resp.Body.Close() // read-only: Close has nothing to report
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, "", backend.DownstreamError(fmt.Errorf("GET /api/v1/incidents: %s: %s", resp.Status, b))
	}
	in, next, err := decodeIncidents(resp.Body)
	if err != nil {
		return nil, "", backend.DownstreamError(err)
	}
	return in, next, nil
}

// query asks for the incidents active in [from, to], of the data source's tenant if it has one.
func (w *webhookClient) query(from, to time.Time) apitypes.IncidentQuery {
	return apitypes.IncidentQuery{Tenant: w.tenant, From: from, To: to}
}

// check asks for the last minute's incidents: it proves the URL and the token.
func (w *webhookClient) check(ctx context.Context) error {
	now := time.Now()
	_, err := w.incidents(ctx, now.Add(-time.Minute), now)
	return err
}

// queryIncidents returns the incidents of the panel's time range as one frame that serves as
// a table and as annotations: time (opened) to timeEnd (resolved, or the range's end while
// firing) is a region, with title, text and tags.
func (d *Datasource) queryIncidents(ctx context.Context, q *models.Query) (data.Frames, error) {
	if d.webhook == nil {
		return nil, fmt.Errorf("the data source has no webhook URL")
	}
	in, err := d.webhook.incidents(ctx, q.From, q.To)
	if err != nil {
		return nil, err
	}
	n := len(in)
	var (
		start    = make([]time.Time, 0, n)
		end      = make([]time.Time, 0, n)
		resolved = make([]*time.Time, 0, n)
		ids      = make([]string, 0, n)
		tenants  = make([]string, 0, n)
		titles   = make([]string, 0, n)
		states   = make([]string, 0, n)
		prio     = make([]int64, 0, n)
		texts    = make([]string, 0, n)
		tags     = make([]string, 0, n)
	)
	for _, i := range in {
		var opened time.Time
		if i.CreatedAt != nil {
			opened = i.CreatedAt.UTC()
		}
		start = append(start, opened)
		e := q.To.UTC()
		if i.ResolvedAt != nil && !i.ResolvedAt.IsZero() {
			r := i.ResolvedAt.UTC()
			e = r
			resolved = append(resolved, &r)
		} else {
			resolved = append(resolved, nil)
		}
		end = append(end, e)
		ids = append(ids, strconv.FormatInt(i.ID, 10))
		tenants = append(tenants, i.Tenant)
		titles = append(titles, i.Title)
		states = append(states, i.State)
		prio = append(prio, int64(i.Priority))
		texts = append(texts, fmt.Sprintf("P%d %s · %s (incident %d, tenant %s)", i.Priority, i.State, i.Title, i.ID, i.Tenant))
		tags = append(tags, strings.Join([]string{"kizashi", "P" + strconv.Itoa(i.Priority), i.State, i.Tenant}, ","))
	}
	f := data.NewFrame("incidents",
		data.NewField("time", nil, start),
		data.NewField("timeEnd", nil, end),
		data.NewField("resolved", nil, resolved),
		data.NewField("id", nil, ids),
		data.NewField("tenant", nil, tenants),
		data.NewField("title", nil, titles),
		data.NewField("state", nil, states),
		data.NewField("priority", nil, prio),
		data.NewField("text", nil, texts),
		data.NewField("tags", nil, tags),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: "GET " + apitypes.IncidentsPath + "?" + d.webhook.query(q.From, q.To).Values().Encode()}
	return data.Frames{f}, nil
}
