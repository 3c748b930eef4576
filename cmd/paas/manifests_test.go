package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// paas manifests prints, for a built image, the Kubernetes objects that run
// it as paas run would: its app.json formation, checks and cron, and its
// release phase; each decodes strictly into k8s.io/api's types.
func TestManifests(t *testing.T) {
	h := sharedHome(t, root)
	app := appCopy(t, root, "hello")
	files := map[string]string{
		"app.json": `{"formation": {"web": {"quantity": 2}, "worker": {"quantity": 1}},
			"healthchecks": {"web": [{"type": "startup", "path": "/", "attempts": 5, "wait": 2}]},
			"cron": [{"command": "echo tick", "schedule": "*/10 * * * *"}]}`,
		"Procfile": "web: perl server.pl\nworker: sleep 1000\nrelease: echo migrating\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.mustBuild(t, "-t", "kube", "-b", buildpackDir("hello"), app)
	out, code := h.paas(t, "manifests", "--image", "registry.example.com/kube:v1", "--host", "kube.example.com", "-e", "GREETING=hi", "kube")
	if code != 0 {
		t.Fatalf("paas manifests: exit %d\n%s", code, out.stderr)
	}
	var kinds []string
	replicas := map[string]int32{}
	for _, doc := range strings.Split(out.stdout, "\n---\n") {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, tm.Kind)
		switch tm.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict([]byte(doc), &d); err != nil {
				t.Fatal(err)
			}
			replicas[d.Name] = *d.Spec.Replicas
			c := d.Spec.Template.Spec.Containers[0]
			if c.Image != "registry.example.com/kube:v1" || *d.Spec.Template.Spec.SecurityContext.RunAsUser != 1000 {
				t.Errorf("deployment %s: image %s, security %+v", d.Name, c.Image, d.Spec.Template.Spec.SecurityContext)
			}
			if d.Name == "kube-web" && (c.StartupProbe == nil || c.StartupProbe.HTTPGet.Path != "/" || c.StartupProbe.FailureThreshold != 5) {
				t.Errorf("web startup probe %+v", c.StartupProbe)
			}
		case "Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict([]byte(doc), &j); err != nil {
				t.Fatal(err)
			}
			if j.Spec.Template.Spec.Containers[0].Args[0] != "release" {
				t.Errorf("release job %+v", j)
			}
		}
	}
	if got := strings.Join(kinds, " "); got != "Job Deployment Deployment Service Ingress CronJob" {
		t.Errorf("kinds %s\n%s", got, out.stdout)
	}
	if replicas["kube-web"] != 2 || replicas["kube-worker"] != 1 {
		t.Errorf("replicas %v, want web 2 and worker 1", replicas)
	}
	if out, code := h.paas(t, "manifests", "--name", "Not_A_Label", "kube"); code != 2 || !strings.Contains(out.stderr, "Not_A_Label") {
		t.Errorf("a bad name: exit %d, want 2\n%s", code, out.stderr)
	}
}
