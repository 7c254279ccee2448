package problemapi

import (
	"html/template"
	"net/http"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// The page /problems: the caller's problems, suppressions and major incidents (customer
// updates due are marked), and forms (GET) for the service report and the audit-trail
// export. Changes are made through the REST API (POST with the session's CSRF token);
// the page reads only.
var pageTmpl = template.Must(template.New("problems").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}).Parse(`<!doctype html>
<html lang="{{.L}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.L.T "Problems"}} — {{.L.T "Kizashi service desk"}}</title><link rel="icon" href="/static/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/static/style.css"></head>
<body><header><a class="brand" href="/incidents">{{.L.T "Kizashi service desk"}}</a> <a href="/incidents">{{.L.T "Incidents"}}</a> <a href="/forwarding">{{.L.T "Forwarding"}}</a> <a href="/problems">{{.L.T "Problems"}}</a>
<span class="who">{{if .All}}{{.L.T "operator %s (all tenants)" .Name}}{{else}}{{.L.T "tenant %s" .Tenant}}{{end}}</span></header>
<main>
<h1>{{.L.T "Major incidents"}}</h1>
{{if .Majors}}<table id="majors"><tr><th>{{.L.T "Incident"}}</th><th>{{.L.T "Tenant"}}</th><th>{{.L.T "Declared"}}</th><th>{{.L.T "Coordinator"}}</th><th>{{.L.T "Next customer update"}}</th><th>{{.L.T "Review"}}</th></tr>
{{range .Majors}}<tr{{if .Due}} class="due"{{end}}><td><a href="/incidents/{{.ID}}">{{.ID}}</a></td><td>{{.M.Tenant}}</td><td>{{when .M.DeclaredAt}}</td><td>{{.M.Coordinator}}</td>
<td>{{if .M.EndedAt.IsZero}}{{when .M.NextUpdateDue}}{{if .Due}} <strong class="due">{{$.L.T "update due"}}</strong>{{end}}{{else}}{{$.L.T "ended %s" (when .M.EndedAt)}}{{end}}</td>
<td>{{if .M.ReviewSummary}}{{.M.ReviewSummary}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>{{.L.T "None."}}</p>{{end}}

<h1>{{.L.T "Problems"}}</h1>
{{if .Problems}}<table id="problems"><tr><th>ID</th><th>{{.L.T "Tenant"}}</th><th>{{.L.T "Title"}}</th><th>{{.L.T "State"}}</th><th>{{.L.T "Origin"}}</th><th>{{.L.T "About"}}</th><th>{{.L.T "Known error"}}</th><th>{{.L.T "Workaround"}}</th><th>{{.L.T "Created"}}</th></tr>
{{range .Problems}}<tr><td><a href="` + apitypes.ProblemsPath + `/{{.ID}}">{{.ID}}</a></td><td>{{.Tenant}}</td><td>{{.Title}}</td><td>{{.State}}</td><td>{{.Origin}}</td><td>{{.Scope}} {{.Subject}}</td>
<td>{{if .KnownError}}{{$.L.T "yes"}}{{end}}</td><td>{{.Workaround}}</td><td>{{when .CreatedAt}}</td></tr>
{{end}}</table>{{else}}<p>{{.L.T "None."}}</p>{{end}}

<h1>{{.L.T "Won't fix"}}</h1>
{{if .Suppressions}}<table id="suppressions"><tr><th>{{.L.T "Tenant"}}</th><th>{{.L.T "Correlation key"}}</th><th>{{.L.T "Until"}}</th><th>{{.L.T "Reason"}}</th><th>{{.L.T "By"}}</th></tr>
{{range .Suppressions}}<tr><td>{{.Tenant}}</td><td>{{.Key}}</td><td>{{when .Until}}</td><td>{{.Reason}}</td><td>{{.Actor}}</td></tr>
{{end}}</table>{{else}}<p>{{.L.T "None."}}</p>{{end}}

<h1>{{.L.T "Service report"}}</h1>
<form method="get" action="` + apitypes.ReportPath + `">
{{if .All}}<label>{{.L.T "Tenant"}} <input name="tenant" required></label>{{end}}
<label>{{.L.T "Month"}} <input name="month" type="month" value="{{.Month}}" required></label>
<label>{{.L.T "Language"}} <select name="lang"><option value="en">English</option><option value="ja"{{if eq .L.String "ja"}} selected{{end}}>日本語</option></select></label>
<label>{{.L.T "Format"}} <select name="format"><option value="html">HTML</option><option value="pdf">PDF</option></select></label>
<button type="submit">{{.L.T "Open"}}</button></form>

<h1>{{.L.T "Audit trail export"}}</h1>
<form method="get" action="` + apitypes.ExportPath + `/incidents" id="export">
{{if .All}}<label>{{.L.T "Tenant"}} <input name="tenant"></label>{{end}}
<label>{{.L.T "Month"}} <input name="month" type="month" value="{{.Month}}" required></label>
<label>{{.L.T "Format"}} <select name="format"><option value="csv">CSV</option><option value="json">JSON</option></select></label>
<button type="submit">{{.L.T "Incidents"}}</button> <button type="submit" formaction="` + apitypes.ExportPath + `/journal">{{.L.T "Journal"}}</button></form>
</main></body></html>
`))

type majorRow struct {
	ID  int64
	M   store.MajorIncident
	Due bool
}

func (h *Handlers) page(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ctx := r.Context()
	scope := p.Scope()
	now := h.Now()
	ps, err := h.Desk.Problems.ListProblems(ctx, store.ProblemFilter{Tenant: scope, Limit: 200})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var problems []apitypes.Problem
	for _, pr := range ps {
		problems = append(problems, h.wireProblem(pr))
	}
	sps, err := h.Desk.Problems.Suppressions(ctx, scope, now)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ms, err := h.Desk.Problems.ListMajors(ctx, scope, time.Time{}, time.Time{}, time.Time{})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var majors []majorRow
	for _, m := range ms {
		majors = append(majors, majorRow{ID: h.IDs.Public(publicid.Incident, m.IncidentID), M: m,
			Due: m.EndedAt.IsZero() && !m.NextUpdateDue.IsZero() && !m.NextUpdateDue.After(now)})
	}
	lang := i18n.Language(r)
	w.Header().Set("Content-Language", lang)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
	if err := pageTmpl.Execute(w, map[string]any{
		"L": i18n.Lang(lang), "All": p.AllTenants(), "Name": p.Name, "Tenant": p.Tenant, "Problems": problems, "Suppressions": sps, "Majors": majors,
		"Month": time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("2006-01"),
	}); err != nil {
		h.Logger.Error("render problems page", "err", err)
	}
}
