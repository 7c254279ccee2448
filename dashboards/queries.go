package dashboards

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
)

// DashboardDir is the directory of the Grafana dashboards in Files.
const DashboardDir = "grafana/dashboards"

// Query is one PromQL expression of a dashboard: a panel's target, a variable's query or an
// annotation's, for the checks of lint_test.go and of the demo's test.
type Query struct {
	Dashboard string // file name
	Where     string // "panel <title> target <refId>", "variable <name>", "annotation <name>"
	Expr      string // with Grafana's variables, see Expand
	Instant   bool   // an instant query (stat, table), else a range query
}

// Dashboard is the part of a dashboard's JSON the checks read.
type Dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Description   string  `json:"description"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []Panel `json:"panels"`
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []Annotation `json:"list"`
	} `json:"annotations"`
}

// Panel is a panel (or a row, whose collapsed panels are in Panels).
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Datasource  *DataSource `json:"datasource"`
	Repeat      string      `json:"repeat"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
		Overrides []struct {
			Matcher struct {
				ID      string `json:"id"`
				Options any    `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Targets []Target `json:"targets"`
	Panels  []Panel  `json:"panels"`
}

// Target is a panel's query.
type Target struct {
	RefID        string      `json:"refId"`
	Datasource   *DataSource `json:"datasource"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Instant      bool        `json:"instant"`
	QueryType    string      `json:"queryType"`
}

// DataSource references a data source.
type DataSource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Variable is a template variable.
type Variable struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Query       json.RawMessage `json:"query"`
	Datasource  *DataSource     `json:"datasource"`
	Definition  string          `json:"definition"`
}

// Annotation is an annotation query.
type Annotation struct {
	Name       string      `json:"name"`
	BuiltIn    int         `json:"builtIn"`
	Datasource *DataSource `json:"datasource"`
	Expr       string      `json:"expr"`
	Target     *Target     `json:"target"`
}

// Dashboards returns the shipped dashboards by file name.
func Dashboards() (map[string]*Dashboard, error) {
	entries, err := fs.ReadDir(Files, DashboardDir)
	if err != nil {
		return nil, fmt.Errorf("read dashboards: %w", err)
	}
	out := map[string]*Dashboard{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		raw, err := Files.ReadFile(path.Join(DashboardDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		var d Dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("parse %s: %w", e.Name(), err)
		}
		out[e.Name()] = &d
	}
	return out, nil
}

// AllPanels returns the panels with the panels of collapsed rows.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// Queries returns the PromQL of every panel target, variable and annotation of the shipped
// dashboards that use a Prometheus data source.
func Queries() ([]Query, error) {
	ds, err := Dashboards()
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, name := range slices.Sorted(maps.Keys(ds)) {
		d := ds[name]
		for _, p := range d.AllPanels() {
			for _, t := range p.Targets {
				if t.Expr != "" && isProm(t.Datasource, p.Datasource) {
					out = append(out, Query{Dashboard: name, Where: fmt.Sprintf("panel %q target %s", p.Title, t.RefID),
						Expr: t.Expr, Instant: t.Instant})
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			if e := VariableExpr(v.Definition); e != "" {
				out = append(out, Query{Dashboard: name, Where: "variable " + v.Name, Expr: e, Instant: true})
			}
		}
		for _, a := range d.Annotations.List {
			if a.Expr != "" && isProm(a.Datasource, nil) {
				out = append(out, Query{Dashboard: name, Where: "annotation " + a.Name, Expr: a.Expr})
			}
		}
	}
	return out, nil
}

func isProm(ds, parent *DataSource) bool {
	if ds == nil {
		ds = parent
	}
	return ds != nil && ds.Type == "prometheus"
}

var (
	labelValuesRE = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	queryResultRE = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// VariableExpr returns the PromQL inside a Prometheus variable query (label_values(expr,
// label), query_result(expr)), or "" when it has none (label_values(label), label_names()).
func VariableExpr(q string) string {
	if m := labelValuesRE.FindStringSubmatch(q); m != nil {
		return m[1]
	}
	if m := queryResultRE.FindStringSubmatch(q); m != nil {
		return m[1]
	}
	return ""
}

var variableRE = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::([a-z]+))?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)\]\]`)

// Expand replaces Grafana's variables in expr ($name, ${name}, ${name:format}, [[name]]) by
// their values in vars; unknown variables are left as they are.
func Expand(expr string, vars map[string]string) string {
	return variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRE.FindStringSubmatch(m)
		name := sub[1] + sub[3] + sub[4]
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// Variables returns the names of the variables expr uses.
func Variables(expr string) []string {
	var out []string
	for _, sub := range variableRE.FindAllStringSubmatch(expr, -1) {
		if n := sub[1] + sub[3] + sub[4]; !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// promqlKeywords are the PromQL words that are neither metrics nor followed by "(".
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "offset": true, "bool": true, "atan2": true,
	"inf": true, "nan": true, "Inf": true, "NaN": true,
	// Aggregations, which may be followed by "by (...)" before their "(".
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "stddev": true, "stdvar": true,
	"topk": true, "bottomk": true, "quantile": true, "count_values": true, "group": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true}

// MetricNames returns the metric names a PromQL expression selects by name: bare names and
// __name__="..." matchers (not regular expressions). Grafana variables are skipped.
func MetricNames(expr string) []string {
	var names []string
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n' || expr[i] == '\r') {
			i++
		}
		return i
	}
	// skipTo returns the index after the byte that closes the one at i: the end of a string,
	// or the matching bracket (nested pairs, such as ${var} in a selector, and strings inside
	// skipped).
	var skipTo func(i int, closing byte) int
	skipTo = func(i int, closing byte) int {
		opening := expr[i]
		if opening == '"' || opening == '\'' || opening == '`' {
			for i++; i < len(expr) && expr[i] != closing; i++ {
				if expr[i] == '\\' && opening != '`' {
					i++
				}
			}
			return i + 1
		}
		for i++; i < len(expr) && expr[i] != closing; {
			switch c := expr[i]; {
			case c == '"' || c == '\'' || c == '`':
				i = skipTo(i, c)
			case c == opening:
				i = skipTo(i, closing)
			default:
				i++
			}
		}
		return i + 1
	}
	nameMatcher := regexp.MustCompile(`__name__\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"`)
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i, c)
		case c == '{':
			end := skipTo(i, '}')
			for _, m := range nameMatcher.FindAllStringSubmatch(expr[i:min(end, len(expr))], -1) {
				add(m[1])
			}
			i = end
		case c == '[':
			i = skipTo(i, ']')
		case c == '$':
			// A Grafana variable: $name or ${...}.
			if i+1 < len(expr) && expr[i+1] == '{' {
				i = skipTo(i+1, '}')
			} else {
				for i++; i < len(expr) && isIdent(expr[i]); i++ {
				}
			}
		case c >= '0' && c <= '9' || c == '.':
			// A number or a duration (5m, 1e+11, 0x1f).
			for i++; i < len(expr) && (isIdent(expr[i]) || expr[i] == '.' ||
				(expr[i] == '+' || expr[i] == '-') && (expr[i-1] == 'e' || expr[i-1] == 'E')); i++ {
			}
		case isIdentStart(c):
			start := i
			for i++; i < len(expr) && isIdent(expr[i]); i++ {
			}
			word := expr[start:i]
			j := skipSpace(i)
			switch {
			case labelListKeywords[word]:
				if j < len(expr) && expr[j] == '(' {
					i = skipTo(j, ')')
				}
			case promqlKeywords[word]:
			case j < len(expr) && expr[j] == '(':
				// A function or an aggregation.
			default:
				add(word)
			}
		default:
			i++
		}
	}
	return names
}
