package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// unit is what the test reads of a systemd unit: its [Service] settings, continued lines
// joined.
type unit map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	u := unit{}
	section, cont := "", ""
	for _, l := range strings.Split(string(raw), "\n") {
		if cont != "" {
			l = cont + " " + strings.TrimSpace(l)
			cont = ""
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cont = strings.TrimSpace(s)
			continue
		}
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
		case section == "Service":
			k, v, ok := strings.Cut(l, "=")
			require.True(t, ok, "%s: %q", path, l)
			u[k] = append(u[k], v)
		}
	}
	return u
}

func (u unit) one(t *testing.T, key string) string {
	t.Helper()
	require.Len(t, u[key], 1, "one %s=", key)
	return u[key][0]
}

// systemdAnalyze finds systemd-analyze (Debian's systemd package; it works without systemd
// running as PID 1).
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found: install it with: apt-get install -y systemd (go tool mage deps does)")
	}
	return p
}

// TestSystemdUnits: each daemon's unit passes `systemd-analyze verify` without a single
// warning (pointing ExecStart at the release's binary, the one change), has an exposure of at
// most 1.5 in `systemd-analyze security` (hardened: no privileges, read-only system, state
// only in its StateDirectory), runs as the user its sysusers file creates, and its command
// line is one the daemon accepts with the configuration the archive ships.
func TestSystemdUnits(t *testing.T) {
	analyze := systemdAnalyze(t)
	for _, d := range daemons {
		t.Run(d, func(t *testing.T) {
			bin := binary(t, d)
			path := filepath.Join("systemd", d+".service")
			u := readUnit(t, path)
			exec0 := u.one(t, "ExecStart")
			installed := "/usr/local/bin/" + d
			require.True(t, strings.HasPrefix(exec0, installed+" "), "ExecStart runs %s: %s", installed, exec0)

			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			tmp := t.TempDir()
			verified := filepath.Join(tmp, d+".service")
			require.Equal(t, 1, strings.Count(string(raw), installed))
			require.NoError(t, os.WriteFile(verified, []byte(strings.Replace(string(raw), installed, bin, 1)), 0o644))
			out, err := exec.Command(analyze, "verify", verified).CombinedOutput()
			require.NoError(t, err, "systemd-analyze verify:\n%s", out)
			require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warns")

			out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=15", verified).CombinedOutput()
			require.NoError(t, err, "systemd-analyze security: exposure above 1.5:\n%s", out)
			m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d) `).FindSubmatch(out)
			require.NotNil(t, m, "%s", out)
			exposure, _ := strconv.ParseFloat(string(m[1]), 64)
			require.LessOrEqual(t, exposure, 1.5, "%s", out)

			// Hardening that the exposure score does not weigh much but we promise.
			for k, v := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
				"PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "StateDirectory": d,
				"ConfigurationDirectory": d, "User": d, "Group": d, "Restart": "on-failure"} {
				require.Equal(t, v, u.one(t, k), k)
			}

			// The user exists once its sysusers file is applied.
			sysusers, err := filepath.Abs(filepath.Join("systemd", d+".sysusers"))
			require.NoError(t, err)
			sroot := filepath.Join(tmp, "root")
			require.NoError(t, os.MkdirAll(filepath.Join(sroot, "etc"), 0o755))
			out, err = exec.Command("systemd-sysusers", "--root="+sroot, sysusers).CombinedOutput()
			require.NoError(t, err, "systemd-sysusers:\n%s", out)
			passwd, err := os.ReadFile(filepath.Join(sroot, "etc", "passwd"))
			require.NoError(t, err)
			require.Regexp(t, `(?m)^`+d+`:x:\d+:\d+:[^:]*:/var/lib/`+d+`:`, string(passwd))

			// The command line: the daemon's default port, the configuration in the unit's
			// ConfigurationDirectory, the state in its StateDirectory; and the daemon accepts
			// it with the shipped configuration (paths moved to the test's directory).
			args := strings.Fields(exec0)[1:]
			require.Contains(t, args, "--web.listen-address=:"+strconv.Itoa(defaultPort(t, d)))
			require.Contains(t, args, "--config.file=/etc/"+d+"/"+d+".yml")
			if d == "kizashi-exporter" {
				require.Contains(t, args, "--storage.path=/var/lib/"+d)
			}
			cfg, err := os.ReadFile(filepath.Join(root, map[string]string{
				"kizashi-exporter": "exporter/examples/kizashi-exporter.yml",
				"kizashi-webhook":  "webhook/kizashi-webhook.example.yml"}[d]))
			require.NoError(t, err)
			if d == "kizashi-webhook" {
				// The example's SQLite path is the unit's StateDirectory.
				require.Contains(t, string(cfg), "path: /var/lib/"+d+"/kizashi.db")
			}
			moved := strings.NewReplacer("/etc/"+d, filepath.Join(tmp, "etc"), "/var/lib/"+d, filepath.Join(tmp, "var"))
			require.NoError(t, os.MkdirAll(filepath.Join(tmp, "etc"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(tmp, "etc", d+".yml"), cfg, 0o644))
			for i := range args {
				args[i] = moved.Replace(args[i])
			}
			out, err = exec.Command(bin, append(args, "--config.check")...).CombinedOutput()
			require.NoError(t, err, "%s %s --config.check:\n%s", d, strings.Join(args, " "), out)
		})
	}
}
