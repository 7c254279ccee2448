package deploy

import (
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// manifests are the objects of deploy/kubernetes, by kind and name.
type manifests struct {
	configMaps   map[string]*corev1.ConfigMap
	services     map[string]*corev1.Service
	statefulSets map[string]*appsv1.StatefulSet
	deployments  map[string]*appsv1.Deployment
	podMonitors  map[string]*monitoringv1.PodMonitor
}

// loadManifests decodes every document of every YAML file under kubernetes/ strictly (an
// unknown or duplicated field is an error, as `kubectl apply --validate=strict` makes it) into
// the Kubernetes API's and the Prometheus Operator's types.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{configMaps: map[string]*corev1.ConfigMap{}, services: map[string]*corev1.Service{},
		statefulSets: map[string]*appsv1.StatefulSet{}, deployments: map[string]*appsv1.Deployment{},
		podMonitors: map[string]*monitoringv1.PodMonitor{}}
	var files []string
	require.NoError(t, filepath.WalkDir("kubernetes", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			require.Equal(t, ".yaml", filepath.Ext(p), "only YAML manifests in kubernetes/: %s", p)
			files = append(files, p)
		}
		return err
	}))
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
			where := fmt.Sprintf("%s, document %d", f, i+1)
			var tm metav1.TypeMeta
			require.NoError(t, yaml.Unmarshal([]byte(doc), &tm), where)
			strict := func(obj interface{ GetName() string }) string {
				require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), where)
				require.NotEmpty(t, obj.GetName(), where)
				return obj.GetName()
			}
			gvk := tm.APIVersion + " " + tm.Kind
			monitoring := filepath.Dir(f) == filepath.Join("kubernetes", "monitoring")
			require.Equal(t, gvk == "monitoring.coreos.com/v1 PodMonitor", monitoring,
				"%s: Prometheus Operator objects (and only they) in kubernetes/monitoring/, applied once its CRDs exist", where)
			switch gvk {
			case "v1 ConfigMap":
				o := &corev1.ConfigMap{}
				m.configMaps[strict(o)] = o
			case "v1 Service":
				o := &corev1.Service{}
				m.services[strict(o)] = o
			case "apps/v1 StatefulSet":
				o := &appsv1.StatefulSet{}
				m.statefulSets[strict(o)] = o
			case "apps/v1 Deployment":
				o := &appsv1.Deployment{}
				m.deployments[strict(o)] = o
			case "monitoring.coreos.com/v1 PodMonitor":
				o := &monitoringv1.PodMonitor{}
				m.podMonitors[strict(o)] = o
			default:
				t.Fatalf("%s: unexpected %q", where, gvk)
			}
		}
	}
	return m
}

// TestManifestsStrict: a field unknown to the API fails the decoding the manifests' test uses.
func TestManifestsStrict(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {replica: 2}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 1, targetport: http}]}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: x, name: y}\n",
	} {
		require.Error(t, yaml.UnmarshalStrict([]byte(doc), &appsv1.StatefulSet{}), doc)
	}
	require.Error(t, yaml.UnmarshalStrict([]byte("spec: {jobLabels: x}\n"), &monitoringv1.PodMonitor{}))
}

// workload is a daemon's pod template with what the test checks it against.
type workload struct {
	name     string
	replicas int32
	labels   map[string]string
	pod      corev1.PodSpec
}

func (m manifests) workloads(t *testing.T) map[string]workload {
	t.Helper()
	out := map[string]workload{}
	for n, s := range m.statefulSets {
		require.NotNil(t, s.Spec.Replicas, n)
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		require.NoError(t, err)
		require.True(t, sel.Matches(labels.Set(s.Spec.Template.Labels)), "%s: selector matches its pods", n)
		out[n] = workload{name: n, replicas: *s.Spec.Replicas, labels: s.Spec.Template.Labels, pod: s.Spec.Template.Spec}
	}
	for n, d := range m.deployments {
		require.NotNil(t, d.Spec.Replicas, n)
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		require.NoError(t, err)
		require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)), "%s: selector matches its pods", n)
		out[n] = workload{name: n, replicas: *d.Spec.Replicas, labels: d.Spec.Template.Labels, pod: d.Spec.Template.Spec}
	}
	return out
}

// TestKubernetesManifests checks the manifests' wiring: the exporter is a StatefulSet whose
// --shard=$(POD_INDEX)/N has N = replicas and POD_INDEX = the pod-index label, the webhook a
// Deployment on PostgreSQL whose secrets are files of a Secret readable by its user; the
// images are the release's (name, tag, user, port, paths of the Dockerfiles); the probes, the
// Services and the PodMonitors point at the daemons' ports and endpoints, with the job names
// the shipped rules expect. Then it runs the release's binaries with the manifests' arguments
// and configurations: every shard starts with its own shard, every probe path answers.
func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	w := m.workloads(t)
	require.ElementsMatch(t, daemons, slices.Collect(maps.Keys(w)))
	require.Contains(t, m.statefulSets, "kizashi-exporter", "the exporter is a StatefulSet (stable ordinal, own volume per shard)")
	require.Contains(t, m.deployments, "kizashi-webhook")
	rules, err := os.ReadFile(filepath.Join(root, "dashboards", "prometheus", "kizashi-alerts.yml"))
	require.NoError(t, err)
	require.Contains(t, string(rules), `up{job=~"kizashi-exporter|kizashi-webhook"}`, "the job names the rules expect")

	for _, d := range daemons {
		t.Run(d, func(t *testing.T) {
			wl := w[d]
			img := parseDockerfile(t, filepath.Join("docker", d+".Dockerfile"))
			require.Len(t, wl.pod.Containers, 1)
			c := wl.pod.Containers[0]
			require.Equal(t, d, c.Name)
			require.Equal(t, d+":"+version(t), c.Image, "the image of deploy/docker/%s.Dockerfile, tagged with the release", d)
			require.Empty(t, c.Command, "the image's ENTRYPOINT runs")

			// Security: the image's user, non-root, nothing to escalate.
			uid, gid, _ := strings.Cut(img.user, ":")
			sc := wl.pod.SecurityContext
			require.NotNil(t, sc)
			require.True(t, *sc.RunAsNonRoot)
			require.Equal(t, uid, strconv.FormatInt(*sc.RunAsUser, 10))
			require.Equal(t, gid, strconv.FormatInt(*sc.RunAsGroup, 10))
			require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type)
			require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
			require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
			require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)

			// The port, the probes, the Service, the PodMonitor.
			port := defaultPort(t, d)
			require.Equal(t, []string{strconv.Itoa(port)}, img.expose)
			require.Len(t, c.Ports, 1)
			require.Equal(t, "http", c.Ports[0].Name)
			require.Equal(t, int32(port), c.Ports[0].ContainerPort)
			require.Equal(t, "/-/ready", c.ReadinessProbe.HTTPGet.Path)
			require.Equal(t, "/-/healthy", c.LivenessProbe.HTTPGet.Path)
			for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
				require.Equal(t, "http", p.HTTPGet.Port.String())
			}
			svc := m.services[d]
			require.NotNil(t, svc, "Service %s", d)
			require.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(wl.labels)), "Service %s selects the pods", d)
			require.Len(t, svc.Spec.Ports, 1)
			require.Equal(t, int32(port), svc.Spec.Ports[0].Port)
			require.Equal(t, "http", svc.Spec.Ports[0].TargetPort.String())
			pm := m.podMonitors[d]
			require.NotNil(t, pm, "PodMonitor %s", d)
			sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
			require.NoError(t, err)
			require.True(t, sel.Matches(labels.Set(wl.labels)), "PodMonitor %s selects the pods", d)
			require.Equal(t, d, wl.labels[pm.Spec.JobLabel], "the PodMonitor's job label gives job=%q", d)
			require.Len(t, pm.Spec.PodMetricsEndpoints, 1)
			ep := pm.Spec.PodMetricsEndpoints[0]
			require.Equal(t, "http", *ep.Port)
			require.Equal(t, "/metrics", ep.Path)
			require.Equal(t, d == "kizashi-exporter", ep.HonorLabels, "honor_labels on the exporter only")

			// The configuration: a ConfigMap mounted where --config.file points.
			args := map[string]string{}
			for _, a := range c.Args {
				k, v, ok := strings.Cut(a, "=")
				require.True(t, ok, "--flag=value: %s", a)
				require.NotContains(t, args, k)
				args[k] = v
			}
			cfgPath := args["--config.file"]
			require.Equal(t, "/etc/"+d+"/"+d+".yml", cfgPath)
			mounts := map[string]corev1.VolumeMount{}
			for _, vm := range c.VolumeMounts {
				mounts[vm.MountPath] = vm
			}
			volumes := map[string]corev1.Volume{}
			for _, v := range wl.pod.Volumes {
				volumes[v.Name] = v
			}
			cfgMount, ok := mounts[path.Dir(cfgPath)]
			require.True(t, ok, "a volume is mounted at %s", path.Dir(cfgPath))
			require.True(t, cfgMount.ReadOnly)
			cfgVol := volumes[cfgMount.Name].ConfigMap
			require.NotNil(t, cfgVol, "%s is a ConfigMap", path.Dir(cfgPath))
			cm := m.configMaps[cfgVol.Name]
			require.NotNil(t, cm, "ConfigMap %s", cfgVol.Name)
			cfg, ok := cm.Data[path.Base(cfgPath)]
			require.True(t, ok, "ConfigMap %s has %s", cm.Name, path.Base(cfgPath))

			tmp := t.TempDir()
			switch d {
			case "kizashi-exporter":
				checkExporter(t, m, wl, c, args, cfg, img, tmp)
			case "kizashi-webhook":
				checkWebhook(t, wl, c, args, cfg, volumes, mounts, tmp)
			}
		})
	}
}

// podIndexField is where the StatefulSet controller puts a pod's ordinal (Kubernetes >= 1.28).
const podIndexField = "metadata.labels['apps.kubernetes.io/pod-index']"

func checkExporter(t *testing.T, m manifests, wl workload, c corev1.Container, args map[string]string, cfg string, img image, tmp string) {
	// The shard wiring: --shard=$(POD_INDEX)/N with N the replicas, POD_INDEX the ordinal.
	shard := regexp.MustCompile(`^\$\(POD_INDEX\)/(\d+)$`).FindStringSubmatch(args["--shard"])
	require.NotNil(t, shard, "--shard=$(POD_INDEX)/N, got %q", args["--shard"])
	n, _ := strconv.Atoi(shard[1])
	require.Equal(t, int(wl.replicas), n, "--shard's N is the number of replicas")
	require.Greater(t, n, 1, "sharded")
	var env *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "POD_INDEX" {
			env = &c.Env[i]
		}
	}
	require.NotNil(t, env, "POD_INDEX is set")
	require.Equal(t, podIndexField, env.ValueFrom.FieldRef.FieldPath)
	ss := m.statefulSets["kizashi-exporter"]
	require.Equal(t, appsv1.ParallelPodManagement, ss.Spec.PodManagementPolicy, "shards start together")
	headless := m.services[ss.Spec.ServiceName]
	require.NotNil(t, headless, "the StatefulSet's service")
	require.Equal(t, corev1.ClusterIPNone, headless.Spec.ClusterIP)

	// Snapshots on the pod's own volume, where the image's volume is, writable by its group.
	storage := args["--storage.path"]
	require.Equal(t, img.workdir, storage)
	vm := slices.IndexFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.MountPath == storage })
	require.GreaterOrEqual(t, vm, 0, "a volume at %s", storage)
	require.Len(t, ss.Spec.VolumeClaimTemplates, 1)
	require.Equal(t, ss.Spec.VolumeClaimTemplates[0].Name, c.VolumeMounts[vm].Name, "each shard's own claim")
	require.Equal(t, *wl.pod.SecurityContext.RunAsGroup, *wl.pod.SecurityContext.FSGroup)

	// The binary with these arguments, as Kubernetes expands them for each ordinal, and the
	// ConfigMap's configuration (paths moved to the test's directory).
	bin := binary(t, "kizashi-exporter")
	cfgFile := filepath.Join(tmp, "kizashi-exporter.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfg), 0o644))
	out, err := exec.Command(bin, "--config.file="+cfgFile, "--config.check").CombinedOutput()
	require.NoError(t, err, "the ConfigMap's configuration:\n%s", out)
	for i := range n {
		var run []string
		for _, a := range c.Args {
			a = strings.ReplaceAll(a, "$(POD_INDEX)", strconv.Itoa(i))
			a = strings.Replace(a, args["--config.file"], cfgFile, 1)
			a = strings.Replace(a, storage, filepath.Join(tmp, fmt.Sprint("data-", i)), 1)
			run = append(run, a)
		}
		ex := start(t, bin, run...)
		require.Contains(t, ex.log.String(), fmt.Sprintf("shard=%d/%d", i, n), "pod %d models shard %d of %d", i, i, n)
		probePaths(t, ex, c)
	}
}

func checkWebhook(t *testing.T, wl workload, c corev1.Container, args map[string]string, cfg string,
	volumes map[string]corev1.Volume, mounts map[string]corev1.VolumeMount, tmp string) {
	// PostgreSQL (several replicas share the store), its DSN and the tokens in a Secret's files.
	require.Greater(t, wl.replicas, int32(1))
	var conf map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cfg), &conf))
	storage := conf["storage"].(map[string]any)
	require.Equal(t, "postgres", storage["driver"])
	require.NotContains(t, storage, "dsn", "the DSN is in the Secret, not the ConfigMap")
	files := regexp.MustCompile(`(?m)(?:_file: |token_files: \[)(/[^\s\]]+)`).FindAllStringSubmatch(cfg, -1)
	require.GreaterOrEqual(t, len(files), 2, "dsn_file and token_files")
	require.NotContains(t, cfg, "tokens:", "tokens are in the Secret")
	var secretDir string
	for mp, vm := range mounts {
		if v := volumes[vm.Name]; v.Secret != nil {
			secretDir = mp
			require.Equal(t, "kizashi-webhook", v.Secret.SecretName)
			mode := *v.Secret.DefaultMode
			readable := mode&0o004 != 0 || (mode&0o040 != 0 && wl.pod.SecurityContext.FSGroup != nil &&
				*wl.pod.SecurityContext.FSGroup == *wl.pod.SecurityContext.RunAsGroup)
			require.True(t, readable, "the Secret's files (mode %04o) are readable by the container's user", mode)
			require.True(t, vm.ReadOnly)
		}
	}
	require.NotEmpty(t, secretDir, "a Secret is mounted")

	// The configuration is valid with the Secret's files in place.
	bin := binary(t, "kizashi-webhook")
	secrets := filepath.Join(tmp, "secret")
	require.NoError(t, os.MkdirAll(secrets, 0o700))
	for _, f := range files {
		require.True(t, strings.HasPrefix(f[1], secretDir+"/"), "%s is a file of the Secret (%s)", f[1], secretDir)
		content := "token-of-" + path.Base(f[1]) + "-0123456789abcdef\n" // tokens are unique
		if strings.HasSuffix(f[1], "/dsn") {
			content = "postgres://kizashi@127.0.0.1:1/kizashi?sslmode=disable\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(secrets, path.Base(f[1])), []byte(content), 0o600))
	}
	moved := strings.ReplaceAll(cfg, secretDir, secrets)
	cfgFile := filepath.Join(tmp, "kizashi-webhook.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(moved), 0o600))
	out, err := exec.Command(bin, "--config.file="+cfgFile, "--config.check").CombinedOutput()
	require.NoError(t, err, "the ConfigMap's configuration with the Secret's files:\n%s", out)

	// The binary with these arguments serves the probes' paths (on SQLite here: the
	// endpoints are the same, and this test has no PostgreSQL).
	conf["storage"] = map[string]any{"driver": "sqlite", "path": filepath.Join(tmp, "kizashi.db")}
	sqlite, err := yaml.Marshal(conf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfgFile, []byte(strings.ReplaceAll(string(sqlite), secretDir, secrets)), 0o600))
	var run []string
	for _, a := range c.Args {
		run = append(run, strings.Replace(a, args["--config.file"], cfgFile, 1))
	}
	probePaths(t, start(t, bin, run...), c)
}

// probePaths: the probes' paths and /metrics are served by the daemon (healthy at once; ready
// may be 503 while the exporter has no Prometheus to backfill from).
func probePaths(t *testing.T, d daemon, c corev1.Container) {
	t.Helper()
	code, _, err := get(d.url + c.LivenessProbe.HTTPGet.Path)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "liveness %s", c.LivenessProbe.HTTPGet.Path)
	code, _, err = get(d.url + c.ReadinessProbe.HTTPGet.Path)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, code, "readiness %s is served", c.ReadinessProbe.HTTPGet.Path)
	code, body, err := get(d.url + "/metrics")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.True(t, strings.Contains(body, "\nkizashi_"), "/metrics has the daemon's kizashi_* metrics")
}
