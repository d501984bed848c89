package k8scheck_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/bulwarkhq/bulwark/libs/checks/k8scheck"
	"github.com/bulwarkhq/bulwark/libs/detect/rules"
)

var deployDir = filepath.Join("..", "..", "..", "deploy", "k8s")

func render(t *testing.T, dir string) []k8scheck.Object {
	t.Helper()
	objs, err := k8scheck.Render(filepath.Join(deployDir, dir))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestOverlays renders every kustomization users apply and checks it.
func TestOverlays(t *testing.T) {
	f := func(dir string, want k8scheck.Expect, kinds ...string) {
		t.Helper()
		objs := render(t, dir)
		for _, err := range k8scheck.Check(objs, want) {
			t.Errorf("%s: %v", dir, err)
		}
		have := map[string]bool{}
		for _, o := range objs {
			have[o.GVK.Kind] = true
			if o.Namespace != "bulwark" && o.GVK.Kind != "Namespace" && !strings.HasPrefix(o.Name, "ingress-nginx") {
				t.Errorf("%s: %s in namespace %q", dir, o, o.Namespace)
			}
		}
		for _, k := range kinds {
			if !have[k] {
				t.Errorf("%s: renders no %s", dir, k)
			}
		}
	}
	f("overlays/dev", k8scheck.Expect{SingleReplica: true}, "Deployment", "DaemonSet", "Service", "ConfigMap", "Role", "RoleBinding", "ServiceAccount")
	f("overlays/prod", k8scheck.Expect{MultiZone: true}, "Deployment", "DaemonSet", "PodDisruptionBudget", "HorizontalPodAutoscaler")
	f("examples/ingress-nginx", k8scheck.Expect{MultiZone: true}, "ScaledObject", "ServiceMonitor", "PodDisruptionBudget")
	f("examples/gate", k8scheck.Expect{MultiZone: true}, "Deployment", "PodDisruptionBudget")
	f("examples/learning", k8scheck.Expect{MultiZone: true}, "Deployment", "PersistentVolumeClaim")
	f("examples/console", k8scheck.Expect{MultiZone: true}, "Deployment", "PodDisruptionBudget")
}

// TestConsoleComponent: the console's Deployment takes its sign-in and
// session secrets by reference, reads the deciders' rule file from the same
// ConfigMap, is reached only through a ClusterIP Service, and is checked
// like every service (breaking it is caught).
func TestConsoleComponent(t *testing.T) {
	objs := render(t, "examples/console")
	var dep, decider *appsv1.Deployment
	var svc *corev1.Service
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			switch v.Name {
			case "bulwark-console":
				dep = v
			case "bulwark-decider":
				decider = v
			}
		case *corev1.Service:
			if v.Name == "bulwark-console" {
				svc = v
			}
		}
	}
	if dep == nil || svc == nil || decider == nil {
		t.Fatalf("examples/console renders no bulwark-console Deployment (%v) or Service (%v)", dep != nil, svc != nil)
	}
	ct := dep.Spec.Template.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range ct.Env {
		env[e.Name] = e
	}
	for _, name := range []string{"BULWARK_CONSOLE_TOKEN", "BULWARK_CONSOLE_SESSION_KEY", "BULWARK_CONSOLE_OIDC_CLIENT_SECRET"} {
		if s := env[name].ValueFrom; s == nil || s.SecretKeyRef == nil || s.SecretKeyRef.Name != "bulwark-console" {
			t.Errorf("%s must come from the Secret bulwark-console: %+v", name, env[name])
		}
	}
	if env["BULWARK_CONSOLE_ADDR"].Value != "0.0.0.0:8490" {
		t.Errorf("BULWARK_CONSOLE_ADDR %q", env["BULWARK_CONSOLE_ADDR"].Value)
	}
	// The policy is checked against the deciders' rule file: same ConfigMap, same path.
	mount := func(d *appsv1.Deployment) string {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.ConfigMap != nil && v.ConfigMap.Name == "bulwark-rules" {
				for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
					if m.Name == v.Name {
						return m.MountPath
					}
				}
			}
		}
		return ""
	}
	if m := mount(dep); m == "" || m != mount(decider) {
		t.Errorf("the console mounts bulwark-rules at %q, the decider at %q", m, mount(decider))
	}
	if svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Port != 8490 {
		t.Errorf("Service %+v", svc.Spec)
	}
	dep.Spec.Template.Annotations = nil
	if errs := k8scheck.Check(objs, k8scheck.Expect{MultiZone: true}); !strings.Contains(errors.Join(errs...).Error(), "bulwark-console") {
		t.Errorf("a console without scrape annotations passes: %v", errs)
	}
}

// TestGateComponent: the gate's Deployment is there, listens where the
// kubelet probes it and its Service points, takes its secret by reference,
// and is checked like every service (breaking it is caught).
func TestGateComponent(t *testing.T) {
	objs := render(t, "examples/gate")
	var gate *appsv1.Deployment
	var svc *corev1.Service
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			if v.Name == "bulwark-gate" {
				gate = v
			}
		case *corev1.Service:
			if v.Name == "bulwark-gate" {
				svc = v
			}
		}
	}
	if gate == nil || svc == nil {
		t.Fatalf("examples/gate renders no bulwark-gate Deployment (%v) or Service (%v)", gate != nil, svc != nil)
	}
	ct := gate.Spec.Template.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range ct.Env {
		env[e.Name] = e
	}
	if env["BULWARK_GATE_UPSTREAM"].Value == "" || env["BULWARK_GATE_ADDR"].Value != "0.0.0.0:8080" {
		t.Errorf("gate env %v", env)
	}
	if s := env["BULWARK_CHALLENGE_SECRET"].ValueFrom; s == nil || s.SecretKeyRef == nil || s.SecretKeyRef.Name != "bulwark-challenge" {
		t.Errorf("BULWARK_CHALLENGE_SECRET must come from the Secret bulwark-challenge: %+v", env["BULWARK_CHALLENGE_SECRET"])
	}
	if svc.Spec.Ports[0].Port != 8080 {
		t.Errorf("Service ports %+v", svc.Spec.Ports)
	}
	// Broken, it is caught like a base service.
	gate.Spec.Template.Annotations = nil
	if errs := k8scheck.Check(objs, k8scheck.Expect{MultiZone: true}); !strings.Contains(errors.Join(errs...).Error(), "bulwark-gate") {
		t.Errorf("a gate without scrape annotations passes: %v", errs)
	}
}

// The base's rules.yaml is a copy of the shipped rule file (kustomize reads
// no file outside the kustomization's folder); it must not drift from it.
func TestBaseRulesAreTheDefault(t *testing.T) {
	got, err := os.ReadFile(filepath.Join(deployDir, "base", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, rules.DefaultYAML()) {
		t.Fatal("deploy/k8s/base/rules.yaml differs from libs/detect/rules/default.yaml; copy it over: cp libs/detect/rules/default.yaml deploy/k8s/base/rules.yaml")
	}
}

// TestSidecarInjection: the component adds a complete sidecar to the
// annotated ingress controller and touches nothing else of it.
func TestSidecarInjection(t *testing.T) {
	objs := render(t, "examples/ingress-nginx")
	var ing *appsv1.Deployment
	hpas := 0
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			if v.Name == "ingress-nginx-controller" {
				ing = v
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			hpas++
		}
	}
	if ing == nil {
		t.Fatal("no ingress-nginx-controller")
	}
	if hpas != 0 {
		t.Errorf("KEDA component left %d CPU HPAs beside its ScaledObjects", hpas)
	}
	if n := len(ing.Spec.Template.Spec.Containers); n != 1 || ing.Spec.Template.Spec.Containers[0].Name != "controller" {
		t.Errorf("controller containers changed: %d", n)
	}
	var sc *corev1.Container
	for i, c := range ing.Spec.Template.Spec.InitContainers {
		if c.Name == "bulwark-sidecar" {
			sc = &ing.Spec.Template.Spec.InitContainers[i]
		}
	}
	if sc == nil || sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatalf("no native bulwark-sidecar container injected: %+v", ing.Spec.Template.Spec.InitContainers)
	}
	if sc.ReadinessProbe == nil || sc.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("sidecar readiness %+v", sc.ReadinessProbe)
	}
}

// TestCheckCatches: each broken invariant is reported.
func TestCheckCatches(t *testing.T) {
	f := func(want string, expect k8scheck.Expect, breakIt func(objs []k8scheck.Object) []k8scheck.Object) {
		t.Helper()
		objs := breakIt(render(t, "overlays/prod"))
		errs := k8scheck.Check(objs, expect)
		if !strings.Contains(errors.Join(errs...).Error()+" ", want) {
			t.Errorf("want an error containing %q, got %v", want, errs)
		}
	}
	deploy := func(name string, mod func(*appsv1.Deployment)) func([]k8scheck.Object) []k8scheck.Object {
		return func(objs []k8scheck.Object) []k8scheck.Object {
			for _, o := range objs {
				if d, ok := o.Obj.(*appsv1.Deployment); ok && d.Name == name {
					mod(d)
				}
			}
			return objs
		}
	}
	drop := func(kind, name string) func([]k8scheck.Object) []k8scheck.Object {
		return func(objs []k8scheck.Object) []k8scheck.Object {
			var out []k8scheck.Object
			for _, o := range objs {
				if o.GVK.Kind != kind || o.Name != name {
					out = append(out, o)
				}
			}
			return out
		}
	}
	prod := k8scheck.Expect{MultiZone: true}
	f("no HTTP readiness probe", prod, deploy("bulwark-decider", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].ReadinessProbe = nil }))
	f("liveness probe on /metrics", prod, deploy("bulwark-decider", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Path = "/metrics"
	}))
	f("no BULWARK_*_ADDR makes the process listen", prod, deploy("bulwark-aggregator", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Env[0].Value = "127.0.0.1:8481"
	}))
	f("BULWARK_DECIDER_RULE_FILE is not a variable any Bulwark program reads", prod, deploy("bulwark-decider", func(d *appsv1.Deployment) {
		ct := &d.Spec.Template.Spec.Containers[0]
		ct.Env = append(ct.Env, corev1.EnvVar{Name: "BULWARK_DECIDER_RULE_FILE", Value: "/etc/bulwark/rules.yaml"})
	}))
	f("is not pinned", prod, deploy("bulwark-decider", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "ghcr.io/bulwarkhq/bulwark-decider:latest"
	}))
	f("is not pinned", prod, deploy("bulwark-decider", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "ghcr.io/bulwarkhq/bulwark-decider"
	}))
	f("must come from a secretKeyRef", prod, deploy("bulwark-cfsync", func(d *appsv1.Deployment) {
		env := d.Spec.Template.Spec.Containers[0].Env
		for i := range env {
			if env[i].Name == "BULWARK_CLOUDFLARE_API_TOKEN" {
				env[i].ValueFrom, env[i].Value = nil, "hunter2"
			}
		}
	}))
	f("readOnlyRootFilesystem must be true", prod, deploy("bulwark-chsink", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = nil
	}))
	f("adds capabilities [NET_ADMIN]", prod, deploy("bulwark-chsink", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
	}))
	f("must run as non-root", prod, deploy("bulwark-chsink", func(d *appsv1.Deployment) { d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil }))
	f("needs a memory limit", prod, deploy("bulwark-chsink", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Resources.Limits = nil }))
	f("shorter than the 30s", prod, deploy("bulwark-chsink", func(d *appsv1.Deployment) {
		g := int64(5)
		d.Spec.Template.Spec.TerminationGracePeriodSeconds = &g
	}))
	f("0 PodDisruptionBudgets select", prod, drop("PodDisruptionBudget", "bulwark-decider"))
	f("no topologySpreadConstraint", prod, deploy("bulwark-decider", func(d *appsv1.Deployment) { d.Spec.Template.Spec.TopologySpreadConstraints = nil }))
	f("no pod anti-affinity", prod, deploy("bulwark-decider", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Affinity = nil }))
	f("1 replica: a zone loss", prod, deploy("bulwark-decider", func(d *appsv1.Deployment) { one := int32(1); d.Spec.Replicas = &one }))
	f("may not update the Lease", prod, drop("Role", "bulwark-cfsync-leader-election"))
	f("without BULWARK_LEADER_ELECTION=true", prod, deploy("bulwark-cfsync", func(d *appsv1.Deployment) {
		env := d.Spec.Template.Spec.Containers[0].Env
		for i := range env {
			if env[i].Name == "BULWARK_LEADER_ELECTION" {
				env[i].Value = "false"
			}
		}
	}))
	f("bulwark-shipper: no Deployment or DaemonSet", prod, drop("DaemonSet", "bulwark-shipper"))
	f("selects no rendered pods", prod, drop("DaemonSet", "bulwark-sidecar"))
	f("exceed the 12 partitions", prod, func(objs []k8scheck.Object) []k8scheck.Object {
		for _, o := range objs {
			if h, ok := o.Obj.(*autoscalingv2.HorizontalPodAutoscaler); ok {
				h.Spec.MaxReplicas = 48
			}
		}
		return objs
	})
	f("holds secret data", prod, func(objs []k8scheck.Object) []k8scheck.Object {
		return append(objs, k8scheck.Object{GVK: corev1.SchemeGroupVersion.WithKind("Secret"), Name: "leak",
			Obj: &corev1.Secret{StringData: map[string]string{"api-token": "hunter2"}}})
	})
	f("want 1", k8scheck.Expect{SingleReplica: true}, func(objs []k8scheck.Object) []k8scheck.Object { return objs })
}

// TestDecodeIsStrict: a misspelt field is an error, not silently dropped.
func TestDecodeIsStrict(t *testing.T) {
	f := func(y, want string) {
		t.Helper()
		_, err := k8scheck.Decode([]byte(y))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("Decode: %v, want %q", err, want)
		}
	}
	f("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n", "")
	f("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndatta: {k: v}\n", "datta")
	f("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replica: 2}\n", "replica")
	f("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: a}\nspec: {maxReplicas: 2}\n", "maxReplicas")
	f("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a}\n", "unknown kind")
}

// TestStandaloneFwsync: deploy/fwsync/daemonset.yaml (kubectl apply -f, no
// kustomize) holds to the same rules as the fwsync component.
func TestStandaloneFwsync(t *testing.T) {
	objs, err := k8scheck.DecodeFile(filepath.Join("..", "..", "..", "deploy", "fwsync", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds *appsv1.DaemonSet
	for _, o := range objs {
		if v, ok := o.Obj.(*appsv1.DaemonSet); ok {
			ds = v
		}
	}
	if ds == nil {
		t.Fatal("no DaemonSet")
	}
	errs := k8scheck.Check(objs, k8scheck.Expect{})
	for _, err := range errs {
		// The standalone file holds fwsync alone.
		if !strings.Contains(err.Error(), ": no Deployment or DaemonSet") {
			t.Error(err)
		}
	}
	ct := ds.Spec.Template.Spec.Containers[0]
	if !ds.Spec.Template.Spec.HostNetwork || ct.SecurityContext == nil || ct.SecurityContext.Capabilities == nil ||
		len(ct.SecurityContext.Capabilities.Add) != 1 || ct.SecurityContext.Capabilities.Add[0] != "NET_ADMIN" {
		t.Errorf("fwsync must run on the host network with NET_ADMIN alone: %+v", ct.SecurityContext)
	}
}

// TestTrainerComponent: the trainer writes the model file the aggregator
// reads, on one shared volume and at the path BULWARK_MODEL_FILE names; it
// runs as one replica, and a second is caught.
func TestTrainerComponent(t *testing.T) {
	objs := render(t, "examples/learning")
	var trainer, agg *appsv1.Deployment
	var pvc *corev1.PersistentVolumeClaim
	var cm *corev1.ConfigMap
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			switch v.Name {
			case "bulwark-trainer":
				trainer = v
			case "bulwark-aggregator":
				agg = v
			}
		case *corev1.PersistentVolumeClaim:
			pvc = v
		case *corev1.ConfigMap:
			if v.Name == "bulwark-config" {
				cm = v
			}
		}
	}
	if trainer == nil || agg == nil || pvc == nil || cm == nil {
		t.Fatalf("examples/learning: trainer %v, aggregator %v, claim %v, config %v", trainer != nil, agg != nil, pvc != nil, cm != nil)
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("bulwark-model access modes %v: the aggregator's replicas run on several nodes", pvc.Spec.AccessModes)
	}
	if trainer.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("trainer rollout %q: two trainers would promote over each other", trainer.Spec.Strategy.Type)
	}
	// mountPath of the claim in a Deployment's first container.
	mount := func(d *appsv1.Deployment) (string, bool) {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != pvc.Name {
				continue
			}
			for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
				if m.Name == v.Name {
					return m.MountPath, m.ReadOnly
				}
			}
		}
		return "", false
	}
	tp, tro := mount(trainer)
	ap, aro := mount(agg)
	if tp == "" || tro || ap == "" || !aro {
		t.Fatalf("model volume: trainer at %q (read-only %v), aggregator at %q (read-only %v)", tp, tro, ap, aro)
	}
	promote := ""
	for _, a := range trainer.Spec.Template.Spec.Containers[0].Args {
		if p, ok := strings.CutPrefix(a, "--promote="); ok {
			promote = p
		}
	}
	if file := cm.Data["BULWARK_MODEL_FILE"]; filepath.Dir(promote) != tp || file != filepath.Join(ap, filepath.Base(promote)) {
		t.Errorf("the trainer promotes to %q (volume at %q); the aggregator reads %q (volume at %q)", promote, tp, file, ap)
	}
	if cm.Data["BULWARK_MODEL_WAIT"] != "true" {
		t.Errorf("BULWARK_MODEL_WAIT %q: the aggregator would stop until the first promotion", cm.Data["BULWARK_MODEL_WAIT"])
	}
	two := int32(2)
	trainer.Spec.Replicas = &two
	if errs := k8scheck.Check(objs, k8scheck.Expect{MultiZone: true}); !strings.Contains(errors.Join(errs...).Error(), "one writer") {
		t.Errorf("two trainers pass: %v", errs)
	}
}
