package k8scheck

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/bulwarkhq/bulwark/libs/detect/rules"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

// ImagePrefix names Bulwark's images; containers with other images (the
// user's ingress controller) are checked only for pinned tags.
const ImagePrefix = "ghcr.io/bulwarkhq/bulwark-"

// PartitionsAnnotation on an autoscaler records the partition count of the
// topic its consumer group reads; maxReplicas must not exceed it.
const PartitionsAnnotation = "bulwark.io/topic-partitions"

// Services are the long-running Bulwark workloads every deployment has.
var Services = []string{"bulwark-shipper", "bulwark-aggregator", "bulwark-decider", "bulwark-sidecar", "bulwark-chsink", "bulwark-cfsync"}

// OptionalServices are Bulwark services a component adds (bulwark-gate, in
// front of a site without nginx or Envoy; bulwark-console, the operator
// console; bulwark-trainer, online learning); when rendered, they are checked
// as Services are.
var OptionalServices = []string{"bulwark-gate", "bulwark-trainer", "bulwark-console"}

// Singletons are workloads that must run exactly one replica in any
// deployment: bulwark-trainer is the one writer of the model file, off the
// request path (while it is down, the model in force keeps scoring).
var Singletons = []string{"bulwark-trainer"}

// Expect says what kind of deployment is checked.
type Expect struct {
	// MultiZone: Deployments run several replicas spread across zones and
	// nodes, each with a PodDisruptionBudget.
	MultiZone bool
	// SingleReplica: every Deployment runs one replica and nothing scales.
	SingleReplica bool
}

// capability exceptions: container name -> the only capabilities it may add
// (it may then run as root, which is what makes the runtime grant them).
var capExceptions = map[string][]corev1.Capability{
	"fwsync":          {"NET_ADMIN"}, // nftables over netlink
	"own-checkpoints": {"CHOWN"},     // hands the shipper's hostPath dir to its user
}

var secretName = regexp.MustCompile(`(?i)(TOKEN|PASSWORD|SECRET|PRIVATE_KEY|API_KEY|CREDENTIAL)`)

// workload is a Deployment or DaemonSet, seen the same way.
type workload struct {
	obj      Object
	name     string
	replicas int32 // DaemonSets: -1
	meta     metav1.ObjectMeta
	template corev1.PodTemplateSpec
}

// Check returns every broken invariant, each naming the object.
func Check(objs []Object, want Expect) []error {
	c := &checker{want: want}
	c.index(objs)
	// Autoscalers first: placement depends on what is scaled.
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			c.autoscaler(o, v.Annotations, v.Spec.ScaleTargetRef.Kind, v.Spec.ScaleTargetRef.Name, v.Spec.MaxReplicas)
			if want.SingleReplica {
				c.fail(o, "autoscaler in a single-replica deployment")
			}
		case *ScaledObject:
			max := int32(100) // KEDA's default
			if v.Spec.MaxReplicaCount != nil {
				max = *v.Spec.MaxReplicaCount
			}
			c.autoscaler(o, v.Annotations, "Deployment", v.Spec.ScaleTargetRef.Name, max)
		}
	}
	for _, w := range c.workloads {
		c.workload(w)
	}
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *corev1.Secret:
			if len(v.Data) > 0 || len(v.StringData) > 0 {
				c.fail(o, "holds secret data; reference Secrets created outside the manifests instead")
			}
		case *corev1.ConfigMap:
			c.configMap(o, v)
		case *corev1.Service:
			c.service(o, v)
		}
	}
	for _, s := range Services {
		if c.byName[s] == nil {
			c.errs = append(c.errs, fmt.Errorf("%s: no Deployment or DaemonSet", s))
		}
	}
	c.cfsync()
	return c.errs
}

type checker struct {
	want        Expect
	errs        []error
	workloads   []*workload
	byName      map[string]*workload
	pdbs        []*policyv1.PodDisruptionBudget
	scaled      map[string]string // workload -> autoscaler
	roles       map[string]*rbacv1.Role
	roleBinding []*rbacv1.RoleBinding
	configMaps  map[string]*corev1.ConfigMap
}

func (c *checker) fail(o fmt.Stringer, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", o, fmt.Sprintf(format, args...)))
}

func (c *checker) index(objs []Object) {
	c.byName = map[string]*workload{}
	c.scaled = map[string]string{}
	c.roles = map[string]*rbacv1.Role{}
	c.configMaps = map[string]*corev1.ConfigMap{}
	for _, o := range objs {
		var w *workload
		switch v := o.Obj.(type) {
		case *corev1.ConfigMap:
			c.configMaps[v.Name] = v
		case *appsv1.Deployment:
			r := int32(1)
			if v.Spec.Replicas != nil {
				r = *v.Spec.Replicas
			}
			w = &workload{obj: o, name: v.Name, replicas: r, meta: v.ObjectMeta, template: v.Spec.Template}
			if !selects(v.Spec.Selector, v.Spec.Template.Labels) {
				c.fail(o, "selector does not match its pod template")
			}
		case *appsv1.DaemonSet:
			w = &workload{obj: o, name: v.Name, replicas: -1, meta: v.ObjectMeta, template: v.Spec.Template}
			if !selects(v.Spec.Selector, v.Spec.Template.Labels) {
				c.fail(o, "selector does not match its pod template")
			}
		case *appsv1.StatefulSet:
			c.fail(o, "Bulwark keeps no state in pods; no StatefulSet expected")
		case *policyv1.PodDisruptionBudget:
			c.pdbs = append(c.pdbs, v)
		case *rbacv1.Role:
			c.roles[v.Name] = v
		case *rbacv1.RoleBinding:
			c.roleBinding = append(c.roleBinding, v)
		}
		if w != nil {
			c.workloads = append(c.workloads, w)
			c.byName[w.name] = w
		}
	}
}

func selects(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(l))
}

func bulwarkImage(img string) bool { return strings.HasPrefix(img, ImagePrefix) }

// pinned: a tag other than latest, or a digest.
func pinned(img string) bool {
	if strings.Contains(img, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(img, "/")
	colon := strings.LastIndex(img, ":")
	if colon <= slash {
		return false
	}
	tag := img[colon+1:]
	return tag != "" && tag != "latest"
}

func (c *checker) workload(w *workload) {
	spec := w.template.Spec
	// A container is Bulwark's by its image, or by its workload's name (an
	// image you built and named yourself).
	isOurs := func(ct corev1.Container) bool { return bulwarkImage(ct.Image) || strings.HasPrefix(w.name, "bulwark-") }
	ours := false
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, ct := range all {
		if !pinned(ct.Image) {
			c.fail(w.obj, "container %s: image %q is not pinned to a tag or digest", ct.Name, ct.Image)
		}
		ours = ours || isOurs(ct)
	}
	if !ours {
		return // the user's workload, only touched by a component
	}
	long := func(ct corev1.Container, init bool) bool {
		return !init || (ct.RestartPolicy != nil && *ct.RestartPolicy == corev1.ContainerRestartPolicyAlways)
	}
	for i, ct := range all {
		if !isOurs(ct) {
			continue
		}
		init := i < len(spec.InitContainers)
		c.security(w, spec, ct)
		c.resources(w, ct)
		c.secretsByReference(w, ct)
		c.knownVariables(w, ct)
		if long(ct, init) {
			c.probes(w, spec, ct)
		}
	}
	if spec.HostNetwork && !slices.ContainsFunc(spec.Containers, func(ct corev1.Container) bool { return ct.Name == "fwsync" }) {
		c.fail(w.obj, "hostNetwork is only for fwsync")
	}
	if slices.Contains(Services, w.name) || slices.Contains(OptionalServices, w.name) {
		c.serviceWorkload(w)
	}
	c.placement(w)
}

// serviceWorkload checks what every Bulwark service workload needs beyond its containers.
func (c *checker) serviceWorkload(w *workload) {
	spec := w.template.Spec
	grace := int64(30) // the Kubernetes default
	if spec.TerminationGracePeriodSeconds != nil {
		grace = *spec.TerminationGracePeriodSeconds
	}
	need := int64(30)
	for _, ct := range spec.Containers {
		// The shipper waits its stop timeout for its producer to flush: the
		// kubelet must wait longer.
		if programOf(w, ct) != "bulwark-shipper" {
			continue
		}
		v := envValue(ct, shipperStopTimeout.Name)
		if v == "" {
			v = shipperStopTimeout.Default
		}
		stop, err := time.ParseDuration(v)
		if err != nil {
			c.fail(w.obj, "%s %q: %v", shipperStopTimeout.Name, v, err)
		}
		need = int64(stop.Seconds()) + 5
	}
	if grace < need {
		c.fail(w.obj, "terminationGracePeriodSeconds %d is shorter than the %ds it needs to flush", grace, need)
	}
	a := w.template.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] == "" {
		c.fail(w.obj, "pod template lacks prometheus.io/scrape and prometheus.io/path annotations")
	} else if !hasPort(spec, a["prometheus.io/port"]) {
		c.fail(w.obj, "prometheus.io/port %q is not a container port", a["prometheus.io/port"])
	}
}

func hasPort(spec corev1.PodSpec, p string) bool {
	for _, ct := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, cp := range ct.Ports {
			if strconv.Itoa(int(cp.ContainerPort)) == p || cp.Name == p {
				return true
			}
		}
	}
	return false
}

func envValue(ct corev1.Container, name string) string {
	for _, e := range ct.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func (c *checker) security(w *workload, spec corev1.PodSpec, ct corev1.Container) {
	sc := ct.SecurityContext
	psc := spec.SecurityContext
	if sc == nil {
		c.fail(w.obj, "container %s: no securityContext", ct.Name)
		return
	}
	if sc.Privileged != nil && *sc.Privileged {
		c.fail(w.obj, "container %s: privileged", ct.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.fail(w.obj, "container %s: allowPrivilegeEscalation must be false", ct.Name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		c.fail(w.obj, "container %s: readOnlyRootFilesystem must be true", ct.Name)
	}
	var drop, add []corev1.Capability
	if sc.Capabilities != nil {
		drop, add = sc.Capabilities.Drop, sc.Capabilities.Add
	}
	if !slices.Contains(drop, "ALL") {
		c.fail(w.obj, "container %s: capabilities must drop ALL", ct.Name)
	}
	allowed, exception := capExceptions[ct.Name]
	if len(add) > 0 && (!exception || !slices.Equal(add, allowed)) {
		c.fail(w.obj, "container %s: adds capabilities %v (only the documented exceptions may)", ct.Name, add)
	}
	nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) ||
		(sc.RunAsNonRoot == nil && psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
	if !nonRoot && !(exception && slices.Equal(add, allowed)) {
		c.fail(w.obj, "container %s: must run as non-root", ct.Name)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && psc != nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.fail(w.obj, "container %s: seccompProfile must be RuntimeDefault", ct.Name)
	}
}

func (c *checker) resources(w *workload, ct corev1.Container) {
	r := ct.Resources
	if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() {
		c.fail(w.obj, "container %s: needs cpu and memory requests", ct.Name)
	}
	if r.Limits.Memory().IsZero() {
		c.fail(w.obj, "container %s: needs a memory limit", ct.Name)
	} else if r.Limits.Memory().Cmp(*r.Requests.Memory()) < 0 {
		c.fail(w.obj, "container %s: memory limit below its request", ct.Name)
	}
}

func (c *checker) secretsByReference(w *workload, ct corev1.Container) {
	for _, e := range ct.Env {
		if !secretName.MatchString(e.Name) {
			continue
		}
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			c.fail(w.obj, "container %s: %s must come from a secretKeyRef", ct.Name, e.Name)
		}
	}
}

func (c *checker) configMap(o Object, cm *corev1.ConfigMap) {
	for k, v := range cm.Data {
		if secretName.MatchString(k) && v != "" {
			c.fail(o, "key %s looks like a secret; use a Secret reference", k)
		}
	}
	if cm.Name == "bulwark-rules" {
		data, ok := cm.Data["rules.yaml"]
		if !ok {
			c.fail(o, "has no rules.yaml")
			return
		}
		if _, err := rules.Parse([]byte(data), "rules.yaml"); err != nil {
			c.fail(o, "rules.yaml: %v", err)
		}
	}
}

// probes: liveness on /healthz and readiness on /readyz, on a port the
// process listens on beyond loopback (or on loopback with hostNetwork).
func (c *checker) probes(w *workload, spec corev1.PodSpec, ct corev1.Container) {
	check := func(kind string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			c.fail(w.obj, "container %s: no HTTP %s probe", ct.Name, kind)
			return
		}
		if p.HTTPGet.Path != path {
			c.fail(w.obj, "container %s: %s probe on %s, want %s", ct.Name, kind, p.HTTPGet.Path, path)
		}
		port := p.HTTPGet.Port.IntValue()
		if port == 0 {
			for _, cp := range ct.Ports {
				if cp.Name == p.HTTPGet.Port.StrVal {
					port = int(cp.ContainerPort)
				}
			}
		}
		if port == 0 {
			c.fail(w.obj, "container %s: %s probe port %s is not a container port", ct.Name, kind, p.HTTPGet.Port.String())
			return
		}
		if !listensOn(c.environment(ct), programVars(w, ct), port, spec.HostNetwork) && !argListensOn(ct.Args, port) {
			c.fail(w.obj, "container %s: %s probe on port %d, but no BULWARK_*_ADDR makes the process listen there for the kubelet", ct.Name, kind, port)
		}
	}
	check("liveness", ct.LivenessProbe, "/healthz")
	check("readiness", ct.ReadinessProbe, "/readyz")
}

// environment is the container's variables as the kubelet sets them:
// envFrom ConfigMaps first, env over them (secrets are not looked into).
func (c *checker) environment(ct corev1.Container) map[string]string {
	env := map[string]string{}
	for _, from := range ct.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		if cm := c.configMaps[from.ConfigMapRef.Name]; cm != nil {
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range ct.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env
}

// listensOn: one of the program's address variables (all Bulwark's when
// the program is not known) listens on port beyond loopback.
func listensOn(env map[string]string, vars map[string]bool, port int, hostNetwork bool) bool {
	for name, value := range env {
		if !strings.HasPrefix(name, config.Prefix) || !strings.HasSuffix(name, "_ADDR") || vars != nil && !vars[name] {
			continue
		}
		host, p, err := net.SplitHostPort(value)
		if err != nil || p != strconv.Itoa(port) {
			continue
		}
		if host == "0.0.0.0" || host == "::" || host == "" || (hostNetwork && host == "127.0.0.1") {
			return true
		}
	}
	return false
}

// argListensOn reports whether the CLI's long-running mode (`bulwark train
// --follow`, configured by flags, not the environment) listens on port for
// the kubelet: --metrics-addr=HOST:PORT on all interfaces.
func argListensOn(args []string, port int) bool {
	for _, a := range args {
		v, ok := strings.CutPrefix(a, "--metrics-addr=")
		if !ok {
			continue
		}
		host, p, err := net.SplitHostPort(v)
		if err == nil && p == strconv.Itoa(port) && (host == "0.0.0.0" || host == "::" || host == "") {
			return true
		}
	}
	return false
}

// placement: replicas, zone spread, anti-affinity and budgets.
func (c *checker) placement(w *workload) {
	if w.replicas < 0 {
		return // DaemonSet: one per node by construction
	}
	_, autoscaled := c.scaledTarget(w.name)
	if slices.Contains(Singletons, w.name) {
		if w.replicas != 1 || autoscaled {
			c.fail(w.obj, "%d replicas (autoscaled: %v): one writer, want exactly 1", w.replicas, autoscaled)
		}
		return
	}
	if c.want.SingleReplica && w.replicas != 1 {
		c.fail(w.obj, "%d replicas, want 1", w.replicas)
	}
	if !c.want.MultiZone {
		return
	}
	if w.replicas < 2 {
		c.fail(w.obj, "%d replica: a zone loss would stop it", w.replicas)
	}
	spec := w.template.Spec
	if !slices.ContainsFunc(spec.TopologySpreadConstraints, func(t corev1.TopologySpreadConstraint) bool {
		return t.TopologyKey == "topology.kubernetes.io/zone" && selects(t.LabelSelector, w.template.Labels)
	}) {
		c.fail(w.obj, "no topologySpreadConstraint across topology.kubernetes.io/zone selecting its pods")
	}
	anti := false
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, t := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			anti = anti || (t.PodAffinityTerm.TopologyKey == "kubernetes.io/hostname" && selects(t.PodAffinityTerm.LabelSelector, w.template.Labels))
		}
		for _, t := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			anti = anti || (t.TopologyKey == "kubernetes.io/hostname" && selects(t.LabelSelector, w.template.Labels))
		}
	}
	if !anti {
		c.fail(w.obj, "no pod anti-affinity on kubernetes.io/hostname selecting its pods")
	}
	if w.replicas > 1 || autoscaled {
		n := 0
		for _, p := range c.pdbs {
			if selects(p.Spec.Selector, w.template.Labels) {
				n++
			}
		}
		if n != 1 {
			c.fail(w.obj, "%d PodDisruptionBudgets select its pods, want 1", n)
		}
	}
}

func (c *checker) scaledTarget(name string) (string, bool) {
	a, ok := c.scaled[name]
	return a, ok
}

func (c *checker) autoscaler(o Object, ann map[string]string, kind, target string, max int32) {
	w := c.byName[target]
	if w == nil || (kind != "" && kind != w.obj.GVK.Kind) {
		c.fail(o, "scales %s/%s, which is not rendered", kind, target)
		return
	}
	if prev, ok := c.scaled[target]; ok {
		c.fail(o, "%s is also scaled by %s", target, prev)
	}
	c.scaled[target] = o.String()
	p, err := strconv.Atoi(ann[PartitionsAnnotation])
	if err != nil || p <= 0 {
		c.fail(o, "needs the %s annotation (the partitions of the topic its group consumes)", PartitionsAnnotation)
		return
	}
	if int(max) > p {
		c.fail(o, "max replicas %d exceed the %d partitions; the extra consumers would idle", max, p)
	}
}

func (c *checker) service(o Object, s *corev1.Service) {
	var target *workload
	for _, w := range c.workloads {
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(w.template.Labels)) {
			target = w
		}
	}
	if target == nil {
		c.fail(o, "selects no rendered pods")
		return
	}
	for _, p := range s.Spec.Ports {
		if p.TargetPort.StrVal != "" && !hasPort(target.template.Spec, p.TargetPort.StrVal) {
			c.fail(o, "targetPort %s is no port of %s", p.TargetPort.StrVal, target.obj)
		}
	}
	if target.replicas < 0 && target.name == "bulwark-sidecar" {
		if s.Spec.InternalTrafficPolicy == nil || *s.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
			c.fail(o, "the per-node sidecar's Service needs internalTrafficPolicy: Local")
		}
	}
}

// cfsync: more than one replica is safe only with leader election, which
// needs a service account allowed to use the Lease.
func (c *checker) cfsync() {
	w := c.byName["bulwark-cfsync"]
	if w == nil {
		return
	}
	if _, ok := c.scaled[w.name]; ok {
		c.fail(w.obj, "must not be autoscaled: one writer at a time")
	}
	var ct *corev1.Container
	for i := range w.template.Spec.Containers {
		if w.template.Spec.Containers[i].Name == "cfsync" {
			ct = &w.template.Spec.Containers[i]
		}
	}
	if ct == nil {
		c.fail(w.obj, "no container named cfsync")
		return
	}
	if envValue(*ct, leaderElection.Name) != "true" {
		if w.replicas > 1 {
			c.fail(w.obj, "%d replicas without %s=true would write to Cloudflare at once", w.replicas, leaderElection.Name)
		}
		return
	}
	lease := envValue(*ct, leaderLeaseName.Name)
	sa := w.template.Spec.ServiceAccountName
	if sa == "" || (w.template.Spec.AutomountServiceAccountToken != nil && !*w.template.Spec.AutomountServiceAccountToken) {
		c.fail(w.obj, "leader election needs a service account with its token mounted")
		return
	}
	verbs := map[string]bool{}
	for _, rb := range c.roleBinding {
		if !slices.ContainsFunc(rb.Subjects, func(s rbacv1.Subject) bool { return s.Kind == "ServiceAccount" && s.Name == sa }) {
			continue
		}
		role := c.roles[rb.RoleRef.Name]
		if rb.RoleRef.Kind != "Role" || role == nil {
			continue
		}
		for _, r := range role.Rules {
			if !slices.Contains(r.APIGroups, "coordination.k8s.io") || !slices.Contains(r.Resources, "leases") {
				continue
			}
			if len(r.ResourceNames) > 0 && !slices.Contains(r.ResourceNames, lease) {
				continue
			}
			for _, v := range r.Verbs {
				verbs[v] = true
			}
		}
	}
	for _, v := range []string{"get", "create", "update"} {
		if !verbs[v] {
			c.fail(w.obj, "service account %s may not %s the Lease %q", sa, v, lease)
		}
	}
}
