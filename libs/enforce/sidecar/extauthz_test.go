package sidecar_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/bulwarkhq/bulwark/libs/enforce/sidecar"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

func checkRequest(source string, headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: source, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}},
		}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/", Headers: headers,
		}},
	}}
}

func actionOf(resp *authv3.CheckResponse) string {
	hs := resp.GetOkResponse().GetHeaders()
	if d := resp.GetDeniedResponse(); d != nil {
		hs = d.GetHeaders()
	}
	for _, h := range hs {
		if h.GetHeader().GetKey() == "x-bulwark-action" {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

func TestExtAuthz(t *testing.T) {
	b := kafkatest.Start(t)
	seed(t, b)
	s := start(t, kafkatest.Config(b), func(c *sidecar.Config) { c.TrustedProxies = "10.0.0.0/8" })
	waitReady(t, s)

	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	f := func(source string, headers map[string]string, wantCode codes.Code, wantHTTP typev3.StatusCode, wantAction string) {
		t.Helper()
		resp, err := client.Check(ctx, checkRequest(source, headers))
		if err != nil {
			t.Fatalf("Check(%s, %v): %v", source, headers, err)
		}
		if got := codes.Code(resp.GetStatus().GetCode()); got != wantCode {
			t.Fatalf("Check(%s, %v) status %v, want %v", source, headers, got, wantCode)
		}
		if d := resp.GetDeniedResponse(); d.GetStatus().GetCode() != wantHTTP {
			t.Fatalf("Check(%s, %v) denied HTTP status %v, want %v", source, headers, d.GetStatus().GetCode(), wantHTTP)
		}
		if got := actionOf(resp); got != wantAction {
			t.Fatalf("Check(%s, %v) action %q, want %q", source, headers, got, wantAction)
		}
	}
	none := typev3.StatusCode_Empty
	f("203.0.113.7", nil, codes.PermissionDenied, typev3.StatusCode_Forbidden, "BLOCK")
	f("203.0.113.8", nil, codes.Unauthenticated, typev3.StatusCode_Unauthorized, "CHALLENGE")
	f("203.0.113.9", nil, codes.OK, none, "MONITOR")
	f("192.0.2.1", nil, codes.OK, none, "ALLOW")
	f("198.51.100.1", nil, codes.PermissionDenied, typev3.StatusCode_Forbidden, "BLOCK")
	f("192.0.2.1", map[string]string{"x-bulwark-session": "bad-session"}, codes.PermissionDenied, typev3.StatusCode_Forbidden, "BLOCK")
	// Headers count only from a trusted source.
	f("192.0.2.1", map[string]string{"x-real-ip": "203.0.113.7"}, codes.OK, none, "ALLOW")
	f("10.0.0.5", map[string]string{"x-real-ip": "203.0.113.7"}, codes.PermissionDenied, typev3.StatusCode_Forbidden, "BLOCK")
	f("10.0.0.5", map[string]string{"x-forwarded-for": "203.0.113.8, 10.0.0.9"}, codes.Unauthenticated, typev3.StatusCode_Unauthorized, "CHALLENGE")
	f("10.0.0.5", nil, codes.OK, none, "ALLOW")

	_, err = client.Check(ctx, checkRequest("10.0.0.5", map[string]string{"x-real-ip": "nonsense"}))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("malformed x-real-ip from a trusted proxy: %v, want InvalidArgument", err)
	}

	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health: %v %v", h, err)
	}
}

func TestExtAuthzFailClosed(t *testing.T) {
	s := start(t, deadKafka(t), func(c *sidecar.Config) { c.FailMode = "closed" })
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, checkRequest("192.0.2.1", nil))
	if err != nil {
		t.Fatal(err)
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.Unavailable || resp.GetDeniedResponse().GetStatus().GetCode() != typev3.StatusCode_ServiceUnavailable {
		t.Fatalf("fail-closed before catch-up: %v", resp)
	}
}

// With BULWARK_SIDECAR_GRPC_TRUSTED_PEERS set, only callers from those
// networks may ask; the test's loopback caller is let in by 127.0.0.0/8
// and refused by a list without it, whatever source address it claims.
func TestExtAuthzTrustedPeers(t *testing.T) {
	b := kafkatest.Start(t)
	seed(t, b)
	for _, tc := range []struct{ peers string }{
		{""},            // the default: any caller
		{"127.0.0.0/8"}, // the caller is trusted
		{"10.0.0.0/8,2001:db8::/32"},
	} {
		t.Run(tc.peers, func(t *testing.T) {
			s := start(t, kafkatest.Config(b), func(c *sidecar.Config) { c.GRPCTrustedPeers = tc.peers })
			waitReady(t, s)
			conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, checkRequest("203.0.113.7", nil))
			refused := strings.HasPrefix(tc.peers, "10.")
			switch {
			case refused && status.Code(err) != codes.PermissionDenied:
				t.Fatalf("caller outside the trusted peers: %v %v, want a PERMISSION_DENIED error", resp, err)
			case refused:
				if !strings.Contains(err.Error(), "BULWARK_SIDECAR_GRPC_TRUSTED_PEERS") {
					t.Fatalf("refusal does not name the variable: %v", err)
				}
			case err != nil:
				t.Fatalf("trusted caller: %v", err)
			case actionOf(resp) != "BLOCK":
				t.Fatalf("trusted caller: %v", resp)
			}
		})
	}
}
