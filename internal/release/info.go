// Package release builds and checks Kizashi's release (`go tool mage release`): for each
// daemon and Linux platform a versioned tar.gz archive (binary, LICENSE, CHANGELOG, example
// configuration, systemd unit and sysusers file), the Grafana plugin as a zip in the layout
// `grafana cli --pluginUrl` installs, and sha256sums.txt. The binaries are static
// (CGO_ENABLED=0) and stamped through prometheus/common/version, so that --version prints the
// version, revision, branch, build user and build date.
//
// The version is the content of the file VERSION (one semantic version, e.g. 0.1.0): a
// source archive without git history builds the same version; revision and branch come from
// git when the source is a checkout ("unknown" otherwise, a revision with uncommitted changes
// gets "-modified" as Go's own VCS stamping does).
package release

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Info is what a release stamps into its binaries.
type Info struct {
	Version   string    // from VERSION
	Revision  string    // git commit
	Branch    string    // git branch
	BuildUser string    // user@host
	Time      time.Time // build time: now, or $SOURCE_DATE_EPOCH for reproducible builds
}

// BuildDate is Time as promu stamps it: 20060102-15:04:05, UTC.
func (i Info) BuildDate() string { return i.Time.UTC().Format("20060102-15:04:05") }

// versionRE is a semantic version without a leading v: 1.2.3, 1.2.3-rc.1.
var versionRE = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// ReadVersion reads and checks root/VERSION.
func ReadVersion(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("read version: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if !versionRE.MatchString(v) {
		return "", fmt.Errorf("read version: %s: %q is not a semantic version such as 0.1.0", filepath.Join(root, "VERSION"), v)
	}
	return v, nil
}

// ReadInfo reads the version from root/VERSION and the revision and branch from git.
func ReadInfo(root string) (Info, error) {
	v, err := ReadVersion(root)
	if err != nil {
		return Info{}, err
	}
	info := Info{Version: v, Revision: "unknown", Branch: "unknown", Time: time.Now().UTC()}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Info{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		info.Time = time.Unix(sec, 0).UTC()
	}
	if rev, err := git(root, "rev-parse", "HEAD"); err == nil {
		info.Revision = rev
		if st, err := git(root, "status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
			info.Revision += "-modified"
		}
		if br, err := git(root, "rev-parse", "--abbrev-ref", "HEAD"); err == nil {
			info.Branch = br
		}
	}
	host, _ := os.Hostname()
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	info.BuildUser = name + "@" + host
	return info, nil
}

func git(root string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// versionPackage is where prometheus/common keeps the build information --version prints.
const versionPackage = "github.com/prometheus/common/version"

// LDFlags returns the -ldflags value that stamps i into prometheus/common/version.
func (i Info) LDFlags() string {
	var b strings.Builder
	for _, kv := range [][2]string{
		{"Version", i.Version}, {"Revision", i.Revision}, {"Branch", i.Branch},
		{"BuildUser", i.BuildUser}, {"BuildDate", i.BuildDate()},
	} {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		// Quoted as the go command splits -ldflags (cmd/internal/quoted): a value may hold
		// spaces but no quote, which clean removes.
		fmt.Fprintf(&b, "-X '%s.%s=%s'", versionPackage, kv[0], clean(kv[1]))
	}
	return b.String()
}

// clean removes the characters that would end a quoted -ldflags value or a line.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\'' || r == '"' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}
