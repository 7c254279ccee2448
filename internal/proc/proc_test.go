package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMissingBinary(t *testing.T) {
	_, err := Binary{Names: []string{"kizashi-no-such-binary"}, Package: "kizashi-pkg"}.Find()
	require.ErrorContains(t, err, "apt-get install -y kizashi-pkg")
}

// TestAptInstallStartsNothing runs AptInstall's script with apt-get, dpkg and systemctl
// replaced by fakes that record what they are asked: during the installation policy-rc.d
// forbids starting services (the machine's own policy-rc.d is kept), afterwards the packages'
// services (not templates) are disabled, and stopped when systemd runs; a failed installation
// leaves no policy-rc.d behind.
func TestAptInstallStartsNothing(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ownPolicy      bool // the machine has a policy-rc.d
		systemdRunning bool
		installFails   bool
		wantLog        []string
	}{
		{name: "no systemd", wantLog: []string{"apt-get update", "apt-get install -y --no-install-recommends prometheus postgresql policy-rc.d=101",
			"systemctl disable prometheus.service postgresql.service"}},
		{name: "systemd running", systemdRunning: true, wantLog: []string{"apt-get update",
			"apt-get install -y --no-install-recommends prometheus postgresql policy-rc.d=101", "systemctl disable --now prometheus.service postgresql.service"}},
		{name: "the machine's policy-rc.d", ownPolicy: true, wantLog: []string{"apt-get update",
			"apt-get install -y --no-install-recommends prometheus postgresql policy-rc.d=7", "systemctl disable prometheus.service postgresql.service"}},
		{name: "install fails", installFails: true, wantLog: []string{"apt-get update",
			"apt-get install -y --no-install-recommends prometheus postgresql policy-rc.d=101"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			require.NoError(t, os.MkdirAll(bin, 0o755))
			logf, policy, running := filepath.Join(dir, "log"), filepath.Join(dir, "policy-rc.d"), filepath.Join(dir, "run-systemd")
			fail := "0"
			if tc.installFails {
				fail = "1"
			}
			fakes := map[string]string{
				"apt-get":   `if [ "$1" = install ]; then "` + policy + `" prometheus start; echo "apt-get $* policy-rc.d=$?" >> ` + logf + `; exit ` + fail + `; fi; echo "apt-get $*" >> ` + logf,
				"dpkg":      `printf "/etc/init.d/prometheus\n/lib/systemd/system/prometheus.service\n/usr/lib/systemd/system/postgresql.service\n/lib/systemd/system/postgresql@.service\n/usr/share/doc/x\n"`,
				"systemctl": `echo "systemctl $*" >> ` + logf,
			}
			for n, body := range fakes {
				require.NoError(t, os.WriteFile(filepath.Join(bin, n), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
			}
			if tc.ownPolicy {
				require.NoError(t, os.WriteFile(policy, []byte("#!/bin/sh\nexit 7\n"), 0o755))
			}
			if tc.systemdRunning {
				require.NoError(t, os.MkdirAll(running, 0o755))
			}
			cmd := exec.Command("sh", "-c", aptInstall([]string{"prometheus", "postgresql"}, policy, running))
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if tc.installFails {
				require.Error(t, err)
			} else {
				require.NoError(t, err, "%s", out)
			}
			log, err := os.ReadFile(logf)
			require.NoError(t, err)
			require.Equal(t, strings.Join(tc.wantLog, "\n")+"\n", string(log))
			b, err := os.ReadFile(policy)
			if tc.ownPolicy {
				require.NoError(t, err)
				require.Equal(t, "#!/bin/sh\nexit 7\n", string(b), "the machine's policy-rc.d is kept")
			} else {
				require.ErrorIs(t, err, os.ErrNotExist, "our policy-rc.d is removed")
			}
		})
	}
	require.NotContains(t, AptInstall([]string{"prometheus"}), "'", "printed inside sh -c '…' for the user")
}
