// Package k8scheck renders Bulwark's kustomizations (deploy/k8s) with the
// kustomize Go API, decodes every object strictly into the typed Kubernetes
// API structs (an unknown or misspelt field is an error, as kubectl's
// server-side validation would make it) and checks the invariants an
// operator relies on: probes, resources, security contexts, pinned images,
// secrets only by reference, disruption budgets and zone spread. It needs no
// cluster, so CI runs it on every change.
package k8scheck

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one rendered object, decoded.
type Object struct {
	GVK       schema.GroupVersionKind
	Name      string
	Namespace string
	// Obj is a typed k8s.io/api struct (*appsv1.Deployment, ...) or, for
	// the custom resources Bulwark ships, *ScaledObject or *ServiceMonitor.
	Obj any
}

func (o Object) String() string { return o.GVK.Kind + "/" + o.Name }

// strict fails on unknown and duplicate fields.
var strict = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// Render builds the kustomization in dir (on disk) and decodes its output.
func Render(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []Object
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		o, err := Decode(y)
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// Decode decodes one YAML object strictly by its apiVersion and kind.
func Decode(y []byte) (Object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(y, &head); err != nil {
		return Object{}, err
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return Object{}, fmt.Errorf("%s/%s: %w", head.Kind, head.Metadata.Name, err)
	}
	o := Object{GVK: gv.WithKind(head.Kind), Name: head.Metadata.Name, Namespace: head.Metadata.Namespace}
	if custom := customKinds[o.GVK]; custom != nil {
		v := custom()
		if err := yaml.UnmarshalStrict(y, v); err != nil {
			return o, fmt.Errorf("%s: %w", o, err)
		}
		o.Obj = v
		return o, nil
	}
	if !scheme.Scheme.Recognizes(o.GVK) {
		return o, fmt.Errorf("%s: unknown kind %s", o, o.GVK)
	}
	obj, _, err := strict.Decode(y, nil, nil)
	if err != nil {
		// The decoder's strict errors name the field; keep them on one line.
		return o, fmt.Errorf("%s: %s", o, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	o.Obj = obj
	return o, nil
}

// DecodeFile decodes every object of a multi-document YAML file (a manifest
// applied with kubectl apply -f).
func DecodeFile(path string) ([]Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var objs []Object
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		o, err := Decode(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		objs = append(objs, o)
	}
}
