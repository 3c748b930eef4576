// Package manifest writes the Kubernetes objects that run an image the way
// paas run does: a Deployment per process type of the formation, a Service
// (and, for a host, an Ingress) for web, a Job for the release phase and a
// CronJob per app.json cron entry. The objects are k8s.io/api's own types,
// serialized by sigs.k8s.io/yaml; nothing is written by hand.
package manifest

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/paas-dev/paas/deploy"
	"github.com/paas-dev/paas/health"
)

// ErrInvalid reports options the objects cannot be made from.
var ErrInvalid = errors.New("invalid manifest options")

// Options say how the objects name and reach the image.
type Options struct {
	// Name names the objects (a DNS-1123 label); "" takes the image's
	// repository's last part.
	Name string
	// Image is the reference the cluster pulls, pushed there (paas build
	// --push); "" is the plan's image name.
	Image string
	// Namespace, when set, is every object's.
	Namespace string
	// Host, when set, gets an Ingress to the web Service; TLSSecret names
	// the Secret holding its certificate.
	Host, TLSSecret string
	// Env are the config vars, NAME=value, given to every container.
	Env []string
	// Digest identifies the image, naming the release Job so that each
	// image's release runs once.
	Digest string
}

// Port is where a web process listens: PORT, as paas run gives it.
const Port = 5000

// stopGrace is how long a process has between SIGTERM and SIGKILL, as in
// paas run and Dokku.
const stopGrace = 30

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// Objects returns the objects for plan, in the order kubectl should apply
// them: the release Job, Deployments, the Service, the Ingress, CronJobs.
func Objects(plan *deploy.Plan, o Options) ([]runtime.Object, error) {
	o, err := o.withDefaults(plan)
	if err != nil {
		return nil, err
	}
	uid, gid, err := ids(plan.User)
	if err != nil {
		return nil, err
	}
	b := builder{plan: plan, o: o, uid: uid, gid: gid}
	var out []runtime.Object
	if plan.Release {
		out = append(out, b.releaseJob())
	}
	for _, typ := range plan.Formation.Types() {
		if typ == deploy.ReleaseType {
			continue
		}
		out = append(out, b.deployment(typ))
	}
	if _, ok := plan.Formation["web"]; ok {
		out = append(out, b.service())
		if o.Host != "" {
			out = append(out, b.ingress())
		}
	}
	for i, c := range plan.Cron {
		out = append(out, b.cronJob(i, c))
	}
	return out, nil
}

// Write writes objs as YAML documents.
func Write(w io.Writer, objs []runtime.Object) error {
	for i, obj := range objs {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

func (o Options) withDefaults(plan *deploy.Plan) (Options, error) {
	if o.Image == "" {
		o.Image = plan.Name
	}
	if o.Name == "" {
		repo, _, _ := strings.Cut(plan.Name[strings.LastIndex(plan.Name, "/")+1:], ":")
		o.Name = strings.Trim(nonLabel.ReplaceAllString(strings.ToLower(repo), "-"), "-")
	}
	// Job names carry a suffix: the name keeps room for it.
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 || len(o.Name) > 40 {
		return o, fmt.Errorf("%w: name %q: a lower-case DNS label of at most 40 characters (--name)", ErrInvalid, o.Name)
	}
	if o.Namespace != "" {
		if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
			return o, fmt.Errorf("%w: namespace %q: %s", ErrInvalid, o.Namespace, strings.Join(errs, "; "))
		}
	}
	if o.Host != "" {
		if errs := validation.IsDNS1123Subdomain(o.Host); len(errs) > 0 {
			return o, fmt.Errorf("%w: host %q: %s", ErrInvalid, o.Host, strings.Join(errs, "; "))
		}
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || len(validation.IsEnvVarName(k)) > 0 {
			return o, fmt.Errorf("%w: config var %q: want NAME=value", ErrInvalid, kv)
		}
	}
	// The same options give the same objects, whatever order they came in.
	o.Env = slices.Clone(o.Env)
	slices.Sort(o.Env)
	return o, nil
}

// ids reads an image's user, uid[:gid], numeric as paas writes it.
func ids(user string) (uid, gid int64, err error) {
	u, g, hasGroup := strings.Cut(user, ":")
	uid, err = strconv.ParseInt(u, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: the image's user %q is not numeric", ErrInvalid, user)
	}
	gid = uid
	if hasGroup {
		if gid, err = strconv.ParseInt(g, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%w: the image's group %q is not numeric", ErrInvalid, g)
		}
	}
	return uid, gid, nil
}

// builder makes the objects of one plan.
type builder struct {
	plan     *deploy.Plan
	o        Options
	uid, gid int64
}

func (b builder) meta(name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: b.o.Namespace, Labels: b.labels(component)}
}

func (b builder) labels(component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       b.o.Name,
		"app.kubernetes.io/component":  component,
		"app.kubernetes.io/managed-by": "paas",
	}
}

// pod is the pod of one process: the image's entrypoint (the launcher) is
// kept, and args are a process type or a command, as for paas run.
func (b builder) pod(component string, restart corev1.RestartPolicy, args ...string) corev1.PodTemplateSpec {
	grace := int64(stopGrace)
	c := corev1.Container{
		Name:            component,
		Image:           b.o.Image,
		Args:            args,
		Env:             b.env(),
		SecurityContext: containerSecurity(),
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: b.labels(component)},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{c},
			RestartPolicy:                 restart,
			TerminationGracePeriodSeconds: &grace,
			SecurityContext:               b.podSecurity(),
		},
	}
}

// env is PORT, as paas run gives it, and the config vars.
func (b builder) env() []corev1.EnvVar {
	env := []corev1.EnvVar{{Name: "PORT", Value: strconv.Itoa(Port)}}
	for _, kv := range b.o.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = slices.DeleteFunc(env, func(e corev1.EnvVar) bool { return e.Name == k })
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	return env
}

// podSecurity runs the pod as the image's user, never as root.
func (b builder) podSecurity() *corev1.PodSecurityContext {
	nonRoot := true
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   &nonRoot,
		RunAsUser:      &b.uid,
		RunAsGroup:     &b.gid,
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// containerSecurity drops what an app never needs.
func containerSecurity() *corev1.SecurityContext {
	no := false
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: &no,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// deployment runs the formation's processes of typ, replaced one at a time
// with none lost, as paas run rolls them.
func (b builder) deployment(typ string) *appsv1.Deployment {
	replicas := int32(b.plan.Formation[typ])
	pod := b.pod(typ, corev1.RestartPolicyAlways, typ)
	c := &pod.Spec.Containers[0]
	if typ == "web" {
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: Port, Protocol: corev1.ProtocolTCP}}
	}
	c.StartupProbe, c.ReadinessProbe = probes(b.plan.Checks[typ], typ == "web")
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: b.meta(b.o.Name+"-"+typ, typ),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: b.labels(typ)},
			Template: pod,
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &one},
			},
			// Dokku's default check: a new process stays up 10 s.
			MinReadySeconds: 10,
		},
	}
}

// probes maps the type's readiness checks onto a startup and a readiness
// probe: a startup check becomes the startup probe, the last readiness
// check the readiness probe. A web process without checks is ready when it
// listens. What a probe cannot say (a body the answer must contain) is left
// out.
func probes(checks []health.Check, web bool) (startup, ready *corev1.Probe) {
	for _, c := range checks {
		p := probe(c)
		if p == nil {
			continue
		}
		if c.Type == health.TypeReadiness {
			ready = p
		} else {
			startup = p
		}
	}
	if ready == nil && web {
		ready = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(Port)}}}
	}
	return startup, ready
}

func probe(c health.Check) *corev1.Probe {
	if c.Path == "" {
		return nil // an uptime check: MinReadySeconds says it
	}
	port := c.Port
	if port == 0 {
		port = Port
	}
	get := &corev1.HTTPGetAction{Path: c.Path, Port: intstr.FromInt(port), Scheme: corev1.URISchemeHTTP}
	if c.Scheme == "https" {
		get.Scheme = corev1.URISchemeHTTPS
	}
	for _, k := range slices.Sorted(maps.Keys(c.Headers)) {
		get.HTTPHeaders = append(get.HTTPHeaders, corev1.HTTPHeader{Name: k, Value: c.Headers[k]})
	}
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{HTTPGet: get},
		InitialDelaySeconds: seconds(c.InitialDelay, 0),
		TimeoutSeconds:      seconds(c.Timeout, 1),
		PeriodSeconds:       seconds(c.Wait, 1),
		FailureThreshold:    max(int32(c.Attempts), 1),
	}
}

// seconds rounds d up to whole seconds, at least least.
func seconds(d time.Duration, least int32) int32 {
	return max(int32(math.Ceil(d.Seconds())), least)
}

// service sends port 80 to the web processes.
func (b builder) service() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: b.meta(b.o.Name+"-web", "web"),
		Spec: corev1.ServiceSpec{
			Selector: b.labels("web"),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

// ingress routes the host to the web Service.
func (b builder) ingress() *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: b.meta(b.o.Name+"-web", "web"),
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: b.o.Host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: b.o.Name + "-web", Port: networkingv1.ServiceBackendPort{Name: "http"},
					}},
				}},
			}},
		}}},
	}
	if b.o.TLSSecret != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{b.o.Host}, SecretName: b.o.TLSSecret}}
	}
	return ing
}

// releaseJob runs the release process once for this image: its name
// carries the image's digest, so applying the objects of a new image runs
// a new release, and those of the same image none.
func (b builder) releaseJob() *batchv1.Job {
	name := b.o.Name + "-release"
	if hex := strings.TrimPrefix(b.o.Digest, "sha256:"); len(hex) >= 12 {
		name += "-" + hex[:12]
	}
	none := int32(0)
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: b.meta(name, deploy.ReleaseType),
		Spec: batchv1.JobSpec{
			BackoffLimit: &none,
			Template:     b.pod(deploy.ReleaseType, corev1.RestartPolicyNever, deploy.ReleaseType),
		},
	}
}

// cronJob runs an app.json cron entry as paas run does: sh -c through the
// launcher, a turn skipped while the last one runs.
func (b builder) cronJob(i int, c deploy.CronEntry) *batchv1.CronJob {
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: b.meta(fmt.Sprintf("%s-cron-%d", b.o.Name, i+1), "cron"),
		Spec: batchv1.CronJobSpec{
			Schedule:          c.Schedule,
			ConcurrencyPolicy: batchv1.ForbidConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				Template: b.pod("cron", corev1.RestartPolicyNever, "sh", "-c", c.Command),
			}},
		},
	}
}
