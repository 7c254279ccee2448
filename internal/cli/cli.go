// Package cli sets up the command lines of Kizashi's programs alike: kingpin with help and
// version on standard output and errors on standard error (as `prog --help | less` and
// `prog --version | head -1` expect), --help listing the flags of the default command (the
// daemon's serve flags, which kingpin would only show under `serve --help`), and the version
// the build stamped into prometheus/common/version.
package cli

import (
	"io"
	"runtime/debug"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

// New returns a kingpin application named name whose --help and --version write to stdout
// and whose errors write to stderr.
func New(name, help string, stdout, stderr io.Writer) *kingpin.Application {
	a := kingpin.New(name, help)
	a.Version(version.Print(name))
	a.HelpFlag.Short('h')
	a.UsageWriter(stdout)
	a.ErrorWriter(stderr)
	a.UsageTemplate(UsageTemplate)
	return a
}

// UsageTemplate is kingpin's DefaultUsageTemplate with the default command's flags listed
// under it in the list of commands.
const UsageTemplate = `{{define "FormatCommand" -}}
{{if .FlagSummary}} {{.FlagSummary}}{{end -}}
{{range .Args}}{{if not .Hidden}} {{if not .Required}}[{{end}}{{if .PlaceHolder}}{{.PlaceHolder}}{{else}}<{{.Name}}>{{end}}{{if .Value|IsCumulative}}...{{end}}{{if not .Required}}]{{end}}{{end}}{{end -}}
{{end -}}

{{define "FormatCommands" -}}
{{range .FlattenedCommands -}}
{{if not .Hidden -}}
  {{.FullCommand}}{{if .Default}}*{{end}}{{template "FormatCommand" .}}
{{.Help|Wrap 4}}
{{- if .Default}}{{with .Flags|FlagsToTwoColumns}}{{FormatTwoColumnsWithIndent . 4 2}}{{end}}{{end}}
{{end -}}
{{end -}}
{{end -}}

{{define "FormatUsage" -}}
{{template "FormatCommand" .}}{{if .Commands}} <command> [<args> ...]{{end}}
{{if .Help}}
{{.Help|Wrap 0 -}}
{{end -}}

{{end -}}

{{if .Context.SelectedCommand -}}
usage: {{.App.Name}} {{.Context.SelectedCommand}}{{template "FormatUsage" .Context.SelectedCommand}}
{{ else -}}
usage: {{.App.Name}}{{template "FormatUsage" .App}}
{{end}}
{{if .Context.Flags -}}
Flags:
{{.Context.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{end -}}
{{if .Context.Args -}}
Args:
{{.Context.Args|ArgsToTwoColumns|FormatTwoColumns}}
{{end -}}
{{if .Context.SelectedCommand -}}
{{if len .Context.SelectedCommand.Commands -}}
Subcommands:
{{template "FormatCommands" .Context.SelectedCommand}}
{{end -}}
{{else if .App.Commands -}}
Commands:
{{template "FormatCommands" .App}}
{{end -}}
`

// DefaultVersion sets prometheus/common/version's Version, when the build did not stamp one
// with -ldflags -X (the release does: see internal/release), to the module version the go
// command recorded in the binary: "v0.1.0" after `go install …@v0.1.0`, "(devel)" for a build
// in a checkout. Call it first thing in main, with debug.ReadBuildInfo's results.
func DefaultVersion(info *debug.BuildInfo, ok bool) {
	if version.Version != "" || !ok || info == nil {
		return
	}
	version.Version = info.Main.Version
}
