package leadertest

import (
	"context"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	coordv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
)

// Holder is the identity in the Lease, "" when there is none.
func Holder(cs kubernetes.Interface, namespace, name string) string {
	l, err := cs.CoordinationV1().Leases(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// cuttableLeases fails the calls leader election makes while cut.
type cuttableLeases struct {
	coordv1client.LeaseInterface
	cut interface{ Load() bool }
}

func (l cuttableLeases) Get(ctx context.Context, name string, o metav1.GetOptions) (*coordinationv1.Lease, error) {
	if l.cut.Load() {
		return nil, ErrUnreachable
	}
	return l.LeaseInterface.Get(ctx, name, o)
}

func (l cuttableLeases) Create(ctx context.Context, lease *coordinationv1.Lease, o metav1.CreateOptions) (*coordinationv1.Lease, error) {
	if l.cut.Load() {
		return nil, ErrUnreachable
	}
	return l.LeaseInterface.Create(ctx, lease, o)
}

func (l cuttableLeases) Update(ctx context.Context, lease *coordinationv1.Lease, o metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	if l.cut.Load() {
		return nil, ErrUnreachable
	}
	return l.LeaseInterface.Update(ctx, lease, o)
}
