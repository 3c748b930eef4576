package manifest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/health"
)

func samplePlan() *deploy.Plan {
	return &deploy.Plan{
		Name:      "registry.example.com/acme/My_Shop:v1",
		Formation: deploy.Formation{"web": 3, "worker": 1},
		Processes: map[string]string{"web": "perl server.pl", "worker": "perl work.pl", "release": "perl migrate.pl"},
		Checks: map[string][]health.Check{"web": {
			{Type: health.TypeStartup, Path: "/up", Attempts: 30, Timeout: 2 * time.Second, Wait: 2 * time.Second},
			{Type: health.TypeReadiness, Path: "/ready", Scheme: "https", Port: 8443, Attempts: 5, Timeout: 1500 * time.Millisecond,
				Wait: 5 * time.Second, InitialDelay: 3 * time.Second, Headers: map[string]string{"Host": "shop.example.com"}},
		}},
		Cron:    []deploy.CronEntry{{Command: "perl nightly.pl", Schedule: "@daily"}, {Command: "echo tick", Schedule: "*/5 * * * *"}},
		Release: true,
		User:    "1000:1000",
	}
}

// decoded is the objects Write wrote, decoded strictly into k8s.io/api's
// types (an unknown field fails) and checked with apimachinery's
// validation of object metadata and label selectors.
type decoded struct {
	deployments map[string]*appsv1.Deployment
	services    []*corev1.Service
	ingresses   []*networkingv1.Ingress
	jobs        []*batchv1.Job
	cronJobs    []*batchv1.CronJob
	kinds       []string
}

func decode(t *testing.T, out []byte) decoded {
	t.Helper()
	d := decoded{deployments: map[string]*appsv1.Deployment{}}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%v:\n%s", err, doc)
		}
		d.kinds = append(d.kinds, tm.Kind)
		var obj interface {
			GetObjectMeta() metav1.Object
		}
		var meta *metav1.ObjectMeta
		var nameFn apivalidation.ValidateNameFunc = apivalidation.NameIsDNSSubdomain
		var keep func()
		switch tm.Kind {
		case "Deployment":
			v := &appsv1.Deployment{}
			obj, meta = v, &v.ObjectMeta
			keep = func() {
				d.deployments[v.Labels["app.kubernetes.io/component"]] = v
				if errs := metav1validation.ValidateLabelSelector(v.Spec.Selector, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("selector")); len(errs) > 0 {
					t.Errorf("deployment %s: selector: %v", v.Name, errs)
				}
			}
		case "Service":
			v := &corev1.Service{}
			obj, meta, nameFn = v, &v.ObjectMeta, apivalidation.NameIsDNS1035Label
			keep = func() { d.services = append(d.services, v) }
		case "Ingress":
			v := &networkingv1.Ingress{}
			obj, meta = v, &v.ObjectMeta
			keep = func() { d.ingresses = append(d.ingresses, v) }
		case "Job":
			v := &batchv1.Job{}
			obj, meta = v, &v.ObjectMeta
			keep = func() { d.jobs = append(d.jobs, v) }
		case "CronJob":
			v := &batchv1.CronJob{}
			obj, meta = v, &v.ObjectMeta
			keep = func() { d.cronJobs = append(d.cronJobs, v) }
		default:
			t.Fatalf("unexpected kind %q", tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("strict decoding of a %s: %v\n%s", tm.Kind, err, doc)
		}
		if errs := apivalidation.ValidateObjectMeta(meta, true, nameFn, field.NewPath("metadata")); len(errs) > 0 {
			t.Errorf("%s %s: %v", tm.Kind, meta.Name, errs)
		}
		keep()
	}
	return d
}

// The objects of a sample app decode strictly, pass metadata validation,
// and say what paas run would do: replicas per type, probes from the
// checks, the image's user and no root, a Service and Ingress for web, a
// release Job named by the image's digest, CronJobs that skip overlapping
// turns.
func TestObjects(t *testing.T) {
	objs, err := Objects(samplePlan(), Options{
		Image: "registry.example.com/acme/shop@sha256:" + strings.Repeat("ab", 32), Namespace: "shop",
		Host: "shop.example.com", TLSSecret: "shop-tls", Env: []string{"GREETING=hi", "PORT=5000"},
		Digest: "sha256:" + strings.Repeat("cd", 32),
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, objs); err != nil {
		t.Fatal(err)
	}
	d := decode(t, buf.Bytes())
	if got := strings.Join(d.kinds, " "); got != "Job Deployment Deployment Service Ingress CronJob CronJob" {
		t.Errorf("kinds %s", got)
	}
	web, worker := d.deployments["web"], d.deployments["worker"]
	if web == nil || worker == nil || *web.Spec.Replicas != 3 || *worker.Spec.Replicas != 1 || web.Name != "my-shop-web" || web.Namespace != "shop" {
		t.Fatalf("deployments %+v", d.deployments)
	}
	pod := web.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Args[0] != "web" || c.Image != "registry.example.com/acme/shop@sha256:"+strings.Repeat("ab", 32) || c.Ports[0].ContainerPort != Port {
		t.Errorf("web container %+v", c)
	}
	if s := pod.SecurityContext; !*s.RunAsNonRoot || *s.RunAsUser != 1000 || *s.RunAsGroup != 1000 || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Errorf("security context %+v / %+v", s, c.SecurityContext)
	}
	if p := c.StartupProbe; p == nil || p.HTTPGet.Path != "/up" || p.FailureThreshold != 30 || p.PeriodSeconds != 2 {
		t.Errorf("startup probe %+v", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet.Path != "/ready" || p.HTTPGet.Scheme != corev1.URISchemeHTTPS || p.HTTPGet.Port.IntValue() != 8443 ||
		p.TimeoutSeconds != 2 || p.InitialDelaySeconds != 3 || p.HTTPGet.HTTPHeaders[0].Value != "shop.example.com" {
		t.Errorf("readiness probe %+v", p)
	}
	if wc := worker.Spec.Template.Spec.Containers[0]; wc.ReadinessProbe != nil || wc.Ports != nil {
		t.Errorf("the worker has a probe or a port: %+v", wc)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["PORT"] != "5000" || env["GREETING"] != "hi" || len(c.Env) != 2 {
		t.Errorf("env %v", c.Env)
	}
	job := d.jobs[0]
	if job.Name != "my-shop-release-"+strings.Repeat("cd", 6) || *job.Spec.BackoffLimit != 0 || job.Spec.Template.Spec.Containers[0].Args[0] != "release" ||
		job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("release job %+v", job)
	}
	if cj := d.cronJobs[1]; cj.Spec.Schedule != "*/5 * * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent ||
		strings.Join(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, " ") != "sh -c echo tick" {
		t.Errorf("cron job %+v", cj)
	}
	if ing := d.ingresses[0]; ing.Spec.Rules[0].Host != "shop.example.com" || ing.Spec.TLS[0].SecretName != "shop-tls" ||
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != d.services[0].Name {
		t.Errorf("ingress %+v", ing)
	}
}

// A web process without checks is ready when it listens; bad options are
// refused naming the problem.
func TestObjectsDefaultsAndErrors(t *testing.T) {
	p := samplePlan()
	p.Checks = nil
	p.Release = false
	objs, err := Objects(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	web := objs[0].(*appsv1.Deployment)
	if r := web.Spec.Template.Spec.Containers[0].ReadinessProbe; r == nil || r.TCPSocket == nil || r.TCPSocket.Port.IntValue() != Port {
		t.Errorf("default readiness probe %+v", r)
	}
	if c := web.Spec.Template.Spec.Containers[0]; c.Image != p.Name {
		t.Errorf("image %q, want the plan's name", c.Image)
	}
	for _, o := range []Options{{Name: "Bad_Name"}, {Namespace: "no spaces"}, {Host: "-bad-"}, {Env: []string{"1X=y"}}} {
		if _, err := Objects(p, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("Objects(%+v) = %v, want %v", o, err, ErrInvalid)
		}
	}
	p.User = "app"
	if _, err := Objects(p, Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a user by name: %v, want %v", err, ErrInvalid)
	}
}
