package sidecar_test

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	// The typed configs the example names, registered for protojson.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
)

// TestEnvoyExample checks deploy/envoy/envoy.yaml without Envoy (Debian
// has no package of it): it must be a valid bootstrap by Envoy's own v3
// protos and their validation rules (go-control-plane), send /.bulwark/ to
// the sidecar's HTTP address without the check, and check everything else
// with ext_authz on the sidecar's gRPC address, failing open. What the
// check answers a challenged page (a 302 to /.bulwark/challenge, which
// Envoy passes to the client as the denied response) is
// TestExtAuthzHonoursClearance's.
func TestEnvoyExample(t *testing.T) {
	raw, err := os.ReadFile("../../../deploy/envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("envoy.yaml is not YAML: %v", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var bs bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &bs); err != nil {
		t.Fatalf("envoy.yaml is not an Envoy v3 bootstrap: %v", err)
	}
	if err := bs.ValidateAll(); err != nil {
		t.Fatalf("envoy.yaml breaks Envoy's validation rules: %v", err)
	}

	ports := map[string]int{}
	for _, c := range bs.GetStaticResources().GetClusters() {
		for _, e := range c.GetLoadAssignment().GetEndpoints() {
			for _, lb := range e.GetLbEndpoints() {
				ports[c.GetName()] = int(lb.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue())
			}
		}
	}
	def := sidecar.DefaultConfig()
	for cluster, addr := range map[string]string{"bulwark_sidecar_http": def.Addr, "bulwark_sidecar_grpc": def.GRPCAddr} {
		_, p, _ := net.SplitHostPort(addr)
		if strconv.Itoa(ports[cluster]) != p {
			t.Errorf("cluster %s is on port %d; the sidecar's default is %s", cluster, ports[cluster], addr)
		}
	}

	listeners := bs.GetStaticResources().GetListeners()
	if len(listeners) != 1 {
		t.Fatalf("%d listeners", len(listeners))
	}
	var hcm hcmv3.HttpConnectionManager
	if err := listeners[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	var authz extauthzv3.ExtAuthz
	found := false
	for _, f := range hcm.GetHttpFilters() {
		if f.GetName() == "envoy.filters.http.ext_authz" {
			if err := f.GetTypedConfig().UnmarshalTo(&authz); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if !found || authz.GetGrpcService().GetEnvoyGrpc().GetClusterName() != "bulwark_sidecar_grpc" || !authz.GetFailureModeAllow() {
		t.Fatalf("ext_authz filter: found %v, %v", found, &authz)
	}
	routes := hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes()
	var challengeRoute *routev3.Route
	for _, r := range routes {
		if r.GetMatch().GetPrefix() == challenge.Prefix {
			challengeRoute = r
			break
		}
		if p := r.GetMatch().GetPrefix(); p == "/" {
			t.Fatal("the catch-all route comes before /.bulwark/")
		}
	}
	if challengeRoute == nil || challengeRoute.GetRoute().GetCluster() != "bulwark_sidecar_http" {
		t.Fatalf("no %s route to the sidecar: %v", challenge.Prefix, routes)
	}
	var per extauthzv3.ExtAuthzPerRoute
	if err := challengeRoute.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"].UnmarshalTo(&per); err != nil || !per.GetDisabled() {
		t.Fatalf("the check is not disabled on %s (%v): a challenged client could not reach the page", challenge.Prefix, err)
	}
}
