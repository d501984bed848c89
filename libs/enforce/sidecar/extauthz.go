package sidecar

import (
	"context"
	"net/netip"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/bulwarkhq/bulwark/libs/enforce/challenge"
	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
	"github.com/bulwarkhq/bulwark/libs/verdicts/verdict"
)

// extAuthz is Envoy's external authorization service
// (envoy.service.auth.v3.Authorization) over the verdict table.
type extAuthz struct {
	authv3.UnimplementedAuthorizationServer
	s *Sidecar
}

func (s *Sidecar) newGRPCServer() *grpc.Server {
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, &extAuthz{s: s})
	hs := health.NewServer()
	// The gRPC health service reports NOT_SERVING until caught up, like /readyz.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	go func() {
		<-s.follower.Ready()
		hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	}()
	healthpb.RegisterHealthServer(srv, hs)
	return srv
}

// Check answers one request: OK for allow or monitor, a denied response with
// 403 for block and 401 for challenge, each with x-bulwark-action. The
// client is the request's source address, or, when that is a trusted proxy,
// the client address header (or x-forwarded-for) it carries. A malformed
// header is INVALID_ARGUMENT, which Envoy handles by its failure_mode_allow.
// With BULWARK_SIDECAR_GRPC_TRUSTED_PEERS set, a caller from elsewhere gets
// PERMISSION_DENIED: the request names its own client, so an open port
// would answer anyone who asks about any address.
func (a *extAuthz) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	s := a.s
	if s.grpcPeers != nil {
		if p := grpcPeer(ctx); !s.grpcPeers.Trusted(p) {
			s.metrics.badRequests.WithLabelValues(apiExtAuthz, "untrusted_peer").Inc()
			return nil, status.Errorf(codes.PermissionDenied, "caller %s is not in BULWARK_SIDECAR_GRPC_TRUSTED_PEERS", p)
		}
	}
	attrs := req.GetAttributes()
	headers := attrs.GetRequest().GetHttp().GetHeaders()
	hv := headers[s.ipHeaderLower]
	if hv == "" {
		hv = headers["x-forwarded-for"]
	}
	var session string
	if s.sessLower != "" {
		session = headers[s.sessLower]
	}
	ans, err := s.authorize(apiExtAuthz, sourceAddr(ctx, attrs), hv, session, envoyHeaders(headers))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "client address: %v", err)
	}
	if ans.degraded && s.failClosed {
		return denied(codes.Unavailable, typev3.StatusCode_ServiceUnavailable, eventpb.Action_BLOCK,
			"verdict table not ready"), nil
	}
	switch ans.action {
	case eventpb.Action_BLOCK:
		return denied(codes.PermissionDenied, typev3.StatusCode_Forbidden, ans.action, "blocked"), nil
	case eventpb.Action_CHALLENGE:
		if s.ch != nil {
			if resp := challengeRedirect(attrs.GetRequest().GetHttp()); resp != nil {
				return resp, nil
			}
		}
		return denied(codes.Unauthenticated, typev3.StatusCode_Unauthorized, ans.action, "challenge required"), nil
	}
	return allowed(ans.action), nil
}

// envoyHeaders are the request headers of a CheckRequest: lower-case names,
// one value each (Envoy joins repeated lines; cookies with "; ").
type envoyHeaders map[string]string

func (h envoyHeaders) clearance() (cookie, ua string) {
	if v := challenge.CookieValue(h["cookie"]); v != "" {
		return v, h["user-agent"]
	}
	return "", ""
}

// sourceAddr is the downstream address Envoy saw, or, failing that, the
// gRPC peer (a caller that is not Envoy).
func sourceAddr(ctx context.Context, attrs *authv3.AttributeContext) netip.Addr {
	if sa := attrs.GetSource().GetAddress().GetSocketAddress(); sa != nil {
		if a, err := netip.ParseAddr(sa.GetAddress()); err == nil {
			return a.Unmap()
		}
	}
	return grpcPeer(ctx)
}

// grpcPeer is the address of the connection a call came on (invalid for a
// unix socket).
func grpcPeer(ctx context.Context) netip.Addr {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if ap, err := netip.ParseAddrPort(p.Addr.String()); err == nil {
			return ap.Addr().Unmap()
		}
	}
	return netip.Addr{}
}

func actionHeader(a eventpb.Action) []*corev3.HeaderValueOption {
	return []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-bulwark-action", Value: verdict.ActionString(a)}}}
}

func allowed(a eventpb.Action) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: actionHeader(a)}},
	}
}

func denied(code codes.Code, httpCode typev3.StatusCode, a eventpb.Action, body string) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: body},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: httpCode},
			Headers: actionHeader(a),
			Body:    body + "\n",
		}},
	}
}
