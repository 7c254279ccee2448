package deploy

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/stretchr/testify/require"
)

// baseImages are the base images a daemon's image may use: nothing but a static binary runs.
var baseImages = map[string]bool{"scratch": true, "gcr.io/distroless/static-debian12:nonroot": true}

// image is what the test reads of a Dockerfile.
type image struct {
	base       string
	args       map[string]string // ARG defaults
	copies     []*instructions.CopyCommand
	user       string
	workdir    string
	volumes    []string
	expose     []string
	entrypoint []string
	cmd        []string
}

// parseDockerfile parses path with BuildKit's parser (as docker build does), failing on any
// of BuildKit's parse-time lint warnings, and returns its single stage.
func parseDockerfile(t *testing.T, path string) image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	res, err := parser.Parse(f)
	require.NoError(t, err)
	require.Empty(t, res.Warnings, "%s: parser warnings", path)
	var lint []string
	stages, metaArgs, err := instructions.Parse(res.AST, linter.New(&linter.Config{
		Warn: func(rule, _, _, msg string, _ []parser.Range) { lint = append(lint, rule+": "+msg) },
	}))
	require.NoError(t, err)
	require.Empty(t, lint, "%s: BuildKit lint", path)
	require.Empty(t, metaArgs, "%s: no ARG before FROM", path)
	require.Len(t, stages, 1, "%s: one stage, nothing is built in the image", path)
	st := stages[0]
	img := image{base: st.BaseName, args: map[string]string{}}
	userSet := false
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, a := range c.Args {
				require.NotNil(t, a.Value, "%s: ARG %s has a default", path, a.Key)
				img.args[a.Key] = *a.Value
			}
		case *instructions.CopyCommand:
			require.Empty(t, c.From, "%s: COPY from the build context only", path)
			require.Empty(t, c.SourceContents, "%s: no heredoc files", path)
			img.copies = append(img.copies, c)
		case *instructions.UserCommand:
			img.user, userSet = c.User, true
		case *instructions.WorkdirCommand:
			require.True(t, userSet, "%s: USER before WORKDIR (BuildKit creates WORKDIR owned by USER)", path)
			img.workdir = c.Path
		case *instructions.VolumeCommand:
			img.volumes = append(img.volumes, c.Volumes...)
		case *instructions.ExposeCommand:
			img.expose = append(img.expose, c.Ports...)
		case *instructions.EntrypointCommand:
			require.False(t, c.PrependShell, "%s: ENTRYPOINT in exec form (there is no shell)", path)
			img.entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			require.False(t, c.PrependShell, "%s: CMD in exec form (there is no shell)", path)
			img.cmd = c.CmdLine
		default:
			// RUN would need a shell and maybe the network; ADD can download.
			t.Fatalf("%s: %s is not allowed: an image is the release's binary copied onto a static base", path, c.Name())
		}
	}
	return img
}

// TestDockerfiles: each daemon's Dockerfile builds from a release directory without a
// compiler or the network: one stage on a static base, only COPY of files the release has
// (for every platform it ships), a numeric non-root USER that owns the working directory and
// volume, the binary as ENTRYPOINT, and the port the daemon listens on by default.
func TestDockerfiles(t *testing.T) {
	dir := releaseDir(t)
	for _, d := range daemons {
		t.Run(d, func(t *testing.T) {
			path := filepath.Join("docker", d+".Dockerfile")
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotContains(t, string(raw), "# syntax=", "no frontend image to download")
			img := parseDockerfile(t, path)
			require.True(t, baseImages[img.base], "base image %s", img.base)

			// Every COPY source exists in the release, for each platform (BuildKit sets
			// TARGETOS and TARGETARCH; the defaults are for the legacy builder).
			require.Contains(t, img.args, "TARGETOS")
			require.Contains(t, img.args, "TARGETARCH")
			var binDest string
			archs := []string{"amd64", "arm64"}
			if os.Getenv(ReleaseDirEnv) != "" && os.Getenv("KIZASHI_RELEASE_SCOPE") == "host" {
				archs = []string{runtime.GOARCH} // go tool mage test's release is for this machine only
			}
			for _, arch := range archs {
				env := shell.EnvsFromSlice([]string{"TARGETOS=linux", "TARGETARCH=" + arch})
				for _, c := range img.copies {
					require.Empty(t, c.Chown, "files belong to root, read-only for the user")
					for _, src := range c.SourcePaths {
						p, _, err := shell.NewLex('\\').ProcessWord(src, env)
						require.NoError(t, err)
						require.NotContains(t, p, "$", "%s: unexpanded variable", src)
						fi, err := os.Stat(filepath.Join(dir, p))
						require.NoError(t, err, "COPY %s: the release has %s", src, p)
						require.True(t, fi.Mode().IsRegular(), p)
						if filepath.Base(p) == d {
							binDest = c.DestPath
						}
					}
				}
			}
			require.Equal(t, "/bin/"+d, binDest, "the binary is copied to /bin/%s", d)

			// A numeric user (Kubernetes' runAsNonRoot can check it), not root.
			uid, gid, ok := strings.Cut(img.user, ":")
			require.True(t, ok, "USER uid:gid, got %q", img.user)
			for _, id := range []string{uid, gid} {
				n, err := strconv.Atoi(id)
				require.NoError(t, err, "USER %s is numeric", img.user)
				require.Positive(t, n, "USER %s is not root", img.user)
			}
			require.Equal(t, "/var/lib/"+d, img.workdir)
			require.Equal(t, []string{img.workdir}, img.volumes)
			require.Equal(t, []string{"/bin/" + d}, img.entrypoint)
			require.Equal(t, []string{strconv.Itoa(defaultPort(t, d))}, img.expose)
			require.Contains(t, img.cmd, "--config.file=/etc/"+d+"/"+d+".yml")
		})
	}
}
