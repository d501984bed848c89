// Package leadertest gives tests a Kubernetes API for leader election
// without a cluster: client-go's fake clientset with the API server's
// optimistic concurrency on Leases, and a way to cut one candidate off.
package leadertest

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	coordv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	k8stesting "k8s.io/client-go/testing"
)

// ErrUnreachable is what a cut-off candidate gets from the API.
var ErrUnreachable = errors.New("leadertest: API server unreachable")

// NewAPI returns a fake clientset whose Lease create and update behave like
// the API server's: a create of an existing Lease is AlreadyExists, and an
// update whose resourceVersion is not the stored one is a Conflict. (The
// fake's tracker on its own takes any update, which would let two
// candidates that raced for an expired Lease both believe they won.)
func NewAPI() *fake.Clientset {
	cs := fake.NewClientset()
	var (
		mu      sync.Mutex
		version int64
	)
	leases := coordinationv1.SchemeGroupVersion.WithResource("leases")
	cs.PrependReactor("create", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		l := a.(k8stesting.CreateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		version++
		l.ResourceVersion = strconv.FormatInt(version, 10)
		if err := cs.Tracker().Create(leases, l, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, l.DeepCopy(), nil
	})
	cs.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		cur, err := cs.Tracker().Get(leases, a.GetNamespace(), l.Name)
		if err != nil {
			return true, nil, err
		}
		if cur.(*coordinationv1.Lease).ResourceVersion != l.ResourceVersion {
			return true, nil, apierrors.NewConflict(leases.GroupResource(), l.Name,
				errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		version++
		l.ResourceVersion = strconv.FormatInt(version, 10)
		if err := cs.Tracker().Update(leases, l, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, l.DeepCopy(), nil
	})
	return cs
}

// Cuttable wraps a client so that its Lease calls can be made to fail, as
// for a pod cut off from the API server by a network partition.
func Cuttable(cs kubernetes.Interface) (kubernetes.Interface, *atomic.Bool) {
	cut := new(atomic.Bool)
	return cuttable{Interface: cs, cut: cut}, cut
}

type cuttable struct {
	kubernetes.Interface
	cut *atomic.Bool
}

func (c cuttable) CoordinationV1() coordv1client.CoordinationV1Interface {
	return cuttableCoordination{c.Interface.CoordinationV1(), c.cut}
}

type cuttableCoordination struct {
	coordv1client.CoordinationV1Interface
	cut *atomic.Bool
}

func (c cuttableCoordination) Leases(ns string) coordv1client.LeaseInterface {
	return cuttableLeases{c.CoordinationV1Interface.Leases(ns), c.cut}
}
