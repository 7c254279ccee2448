package ui

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/readmodel"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// queueCap bounds the incidents the queue (sorted by SLA due) and the CSV export read: the
// store lists newest first, so the queue reads every page of the filter up to this many and
// sorts them; beyond it the page says that the list was cut.
const queueCap = 5000

// Sort orders of the queue (query parameter sort).
const (
	sortSLA     = "sla"     // breached first, then soonest due; no running clock last (default)
	sortCreated = "created" // newest first, paged like the API
)

// registerShift adds the queue's export, bulk actions, preferences and charts.
func (u *UI) registerShift(mux *http.ServeMux) {
	mux.HandleFunc("GET /incidents.csv", u.page(u.exportCSV))
	mux.HandleFunc("POST /incidents/bulk", u.page(u.bulk))
	mux.HandleFunc("GET /incidents/{id}/chart.svg", u.page(u.chart))
	mux.HandleFunc("POST /incidents/{id}/retry", u.page(u.retryDeadLetter))
	mux.HandleFunc("GET /preferences", u.page(u.preferences))
	mux.HandleFunc("POST /preferences", u.page(u.savePreferences))
}

// pageConfig is the page's section of the configuration (its defaults without one).
func (u *UI) pageConfig() config.Page {
	if u.Config != nil {
		if c := u.Config(); c != nil {
			return c.Page
		}
	}
	return config.DefaultPage
}

func (u *UI) refreshSeconds() int {
	return max(1, int(time.Duration(u.pageConfig().Refresh).Seconds()))
}

// slaKey is the time left on the incident's nearest running SLA clock (negative: breached);
// false when no clock runs.
func slaKey(in apitypes.Incident) (float64, bool) {
	var (
		k  float64
		ok bool
	)
	for _, s := range []*float64{in.ResponseRemainingS, in.ResolveRemainingS} {
		if s != nil && (!ok || *s < k) {
			k, ok = *s, true
		}
	}
	return k, ok
}

// sortBySLA orders incidents for a shift: running clocks first, breached ones first among them,
// then the soonest due; then the others, newest first.
func sortBySLA(ins []apitypes.Incident) {
	slices.SortStableFunc(ins, func(a, b apitypes.Incident) int {
		ka, oka := slaKey(a)
		kb, okb := slaKey(b)
		switch {
		case oka && okb:
			if ka != kb {
				if ka < kb {
					return -1
				}
				return 1
			}
		case oka:
			return -1
		case okb:
			return 1
		}
		return created(b).Compare(created(a))
	})
}

func created(in apitypes.Incident) time.Time {
	if in.CreatedAt == nil {
		return time.Time{}
	}
	return *in.CreatedAt
}

// readAll reads every incident of the filter, up to queueCap; cut reports that there were more.
func (u *UI) readAll(ctx context.Context, f store.Filter) (all []apitypes.Incident, cut bool, err error) {
	f.Limit = 500
	rd, now := u.reader(), time.Now()
	rd.Now = func() time.Time { return now } // one clock for every page: their SLA times compare
	for {
		page, next, err := rd.List(ctx, f)
		if err != nil {
			return nil, false, err
		}
		all = append(all, page...)
		if next == "" {
			return all, false, nil
		}
		if len(all) >= queueCap {
			return all[:queueCap], true, nil
		}
		id, ok := u.reader().IncidentID(next)
		if !ok {
			return all, true, nil
		}
		f.BeforeID = id
	}
}

type listData struct {
	base
	Incidents []apitypes.Incident
	Query     url.Values
	// QueryString is the filter (for the export and the bulk actions' way back).
	QueryString string
	Sort        string
	NextQuery   string
	Cut         bool
	CanAct      bool
}

// queue reads the incidents of the request's filter in its order.
func (u *UI) queue(ctx context.Context, q url.Values, v viewer) (ins []apitypes.Incident, next string, cut bool, err error) {
	f, err := u.reader().ParseFilter(q, v.Scope())
	if err != nil {
		return nil, "", false, err
	}
	f.Groups = v.Groups // an operator limited to assignment groups
	if q.Get("sort") == sortCreated {
		ins, next, err = u.reader().List(ctx, f)
		return ins, next, false, err
	}
	ins, cut, err = u.readAll(ctx, f)
	sortBySLA(ins)
	return ins, "", cut, err
}

func (u *UI) list(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	d := listData{base: v.base(), Query: q, Sort: sortSLA, CanAct: mayAct(v.Principal)}
	d.Title, d.Refresh, d.RefreshURL = v.L.T("Incidents"), u.refreshSeconds(), r.URL.RequestURI()
	if q.Get("sort") == sortCreated {
		d.Sort = sortCreated
	}
	fq := url.Values{}
	for k, vs := range q {
		if k != "before" {
			fq[k] = vs
		}
	}
	d.QueryString = fq.Encode()
	if _, err := u.reader().ParseFilter(q, v.Scope()); err != nil {
		d.Error = v.L.T("Invalid filter (%s).", err.Error())
		u.render(w, "list.html", http.StatusBadRequest, d)
		return
	}
	var (
		next string
		err  error
	)
	d.Incidents, next, d.Cut, err = u.queue(r.Context(), q, v)
	if err != nil {
		d.Error = u.unavailable(v.L, err)
		u.render(w, "list.html", http.StatusServiceUnavailable, d)
		return
	}
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("before", next)
		d.NextQuery = nq.Encode()
	}
	u.render(w, "list.html", http.StatusOK, d)
}

// csvCell makes a cell safe to open in a spreadsheet: a cell that starts with = + - @ or a tab
// or carriage return would be read as a formula (CSV injection), so it gets a leading '.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// exportCSV writes the filtered queue (every page, in the queue's order) as CSV: UTF-8 with a
// byte order mark (so that Excel reads Japanese right), times in the user's zone.
func (u *UI) exportCSV(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	q.Del("before")
	if q.Get("sort") == sortCreated {
		q.Del("sort") // the export is the whole list, not one page
	}
	ins, _, _, err := u.queue(r.Context(), q, v)
	if err != nil {
		code := http.StatusBadRequest
		msg := v.L.T("Invalid filter (%s).", err.Error())
		if _, perr := u.reader().ParseFilter(q, v.Scope()); perr == nil {
			code, msg = http.StatusServiceUnavailable, u.unavailable(v.L, err)
		}
		http.Error(w, msg, code)
		return
	}
	l := v.L
	zone := " (" + l.ZoneName() + ")"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="incidents-`+time.Now().In(l.Zone).Format("20060102-150405")+`.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte("\uFEFF"))
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	_ = cw.Write([]string{"id", l.T("Tenant"), l.T("Priority"), l.T("State"), l.T("Title"), "CI", l.T("Assignment group"),
		l.T("Assignee"), l.T("Response due") + zone, l.T("Response SLA"), l.T("Resolve due") + zone, l.T("Resolve SLA"),
		l.T("Created") + zone, l.T("Acknowledged") + zone, l.T("Resolved") + zone, l.T("Tickets")})
	for _, in := range ins {
		var tickets []string
		for _, t := range in.ExternalRefs {
			tickets = append(tickets, t.Target+" "+cmp(t.Key, t.ID))
		}
		row := []string{strconv.FormatInt(in.ID, 10), in.Tenant, "P" + strconv.Itoa(in.Priority), l.State(in.State), in.Title, in.CI,
			in.AssignmentGroup, in.Assignee, csvTime(l, in.ResponseDue), slaStatus(l, in.ResponseRemainingS, in.ResponseBreachedAt),
			csvTime(l, in.ResolveDue), slaStatus(l, in.ResolveRemainingS, in.ResolveBreachedAt), csvTime(l, in.CreatedAt),
			csvTime(l, in.AcknowledgedAt), csvTime(l, in.ResolvedAt), strings.Join(tickets, " ")}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func csvTime(l *Locale, t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return l.Time(*t)
}

// slaStatus is an SLA clock in words: breached, the time left (paused or not), or met.
func slaStatus(l *Locale, remaining *float64, breached *time.Time) string {
	switch {
	case remaining != nil:
		return l.Remaining(remaining)
	case breached != nil:
		return l.T("breached")
	}
	return ""
}

// bulkResult is the outcome of a bulk action on one incident.
type bulkResult struct {
	ID    string
	Error string
}

type bulkData struct {
	base
	Action  string
	Results []bulkResult
	Done    int
	Back    string
}

// bulkActions are the actions the queue applies to several incidents at once.
var bulkActions = []string{incident.ActAcknowledge, incident.ActAssign, incident.ActResolve}

// bulk applies one action to the incidents checked in the queue, each in its own transaction,
// and shows what each did.
func (u *UI) bulk(w http.ResponseWriter, r *http.Request, v viewer) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, u.locale(r).T("bad form"), http.StatusBadRequest)
		return
	}
	if !mayAct(v.Principal) {
		u.fail(w, v, errReadOnly)
		return
	}
	a := formAction(r)
	d := bulkData{base: v.base(), Action: a.Kind, Back: "/incidents"}
	d.Title = v.L.T("Bulk action")
	if back := r.PostFormValue("back"); back != "" {
		if bq, err := url.ParseQuery(back); err == nil {
			d.Back = "/incidents?" + bq.Encode()
		}
	}
	ids := r.PostForm["ids"]
	switch {
	case !slices.Contains(bulkActions, a.Kind):
		d.Error = v.L.T("Choose an action: acknowledge, assign or resolve.")
	case len(ids) == 0:
		d.Error = v.L.T("Select at least one incident.")
	case len(ids) > 500:
		d.Error = v.L.T("Select at most 500 incidents.")
	}
	if d.Error != "" {
		u.render(w, "bulk.html", http.StatusBadRequest, d)
		return
	}
	for _, s := range ids {
		res := bulkResult{ID: s}
		id, ok := u.reader().IncidentID(s)
		if !ok {
			res.Error = v.L.T(http.StatusText(http.StatusNotFound))
			d.Results = append(d.Results, res)
			continue
		}
		if _, err := u.Service.Act(r.Context(), v.Caller(), id, a); err != nil {
			switch code := readmodel.Status(err); code {
			case http.StatusNotFound:
				res.Error = v.L.T(http.StatusText(code))
			case http.StatusServiceUnavailable:
				res.Error = u.unavailable(v.L, err)
			default:
				res.Error = actionError(v.L, err)
			}
		} else {
			d.Done++
		}
		d.Results = append(d.Results, res)
	}
	u.render(w, "bulk.html", http.StatusOK, d)
}
