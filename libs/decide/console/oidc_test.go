package console_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/libs/decide/console"
	"github.com/bulwarkhq/bulwark/libs/decide/overrides"
	"github.com/bulwarkhq/bulwark/libs/platform/kafkatest"
)

// fakeIssuer is an OpenID provider good enough for the authorization code
// flow with PKCE: discovery, JWKS, an authorize endpoint that signs in
// email at once, and a token endpoint that checks the code verifier.
type fakeIssuer struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	email string

	mu    sync.Mutex
	codes map[string]grant // code -> what it was issued for
	// pkceChecked counts token requests whose verifier matched.
	pkceChecked int
}

type grant struct{ challenge, nonce, clientID string }

func newFakeIssuer(t *testing.T, email string) *fakeIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fi := &fakeIssuer{key: key, email: email, codes: map[string]grant{}}
	mux := http.NewServeMux()
	fi.srv = httptest.NewServer(mux)
	t.Cleanup(fi.srv.Close)
	iss := fi.srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"jwks_uri": iss + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported": []string{"S256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("response_type") != "code" {
			http.Error(w, "PKCE S256 and the code flow are required", http.StatusBadRequest)
			return
		}
		code := strings.TrimRight(base64.URLEncoding.EncodeToString([]byte(time.Now().String())), "=")
		fi.mu.Lock()
		fi.codes[code] = grant{q.Get("code_challenge"), q.Get("nonce"), q.Get("client_id")}
		fi.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		fi.mu.Lock()
		g, ok := fi.codes[r.PostFormValue("code")]
		delete(fi.codes, r.PostFormValue("code"))
		fi.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		fi.mu.Lock()
		fi.pkceChecked++
		fi.mu.Unlock()
		sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		now := time.Now()
		claims := map[string]any{"iss": iss, "sub": "user-42", "aud": g.clientID, "nonce": g.nonce,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "email": fi.email, "email_verified": true}
		idt, err := jwt.Signed(sig).Claims(claims).Serialize()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": idt})
	})
	return fi
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestOIDCLogin: signing in with the provider (code flow, PKCE, nonce)
// gives the role configured for the e-mail address; anyone else the
// provider lets in is a viewer and cannot act.
func TestOIDCLogin(t *testing.T) {
	b := kafkatest.Start(t)
	for _, tc := range []struct {
		email, wantRole string
	}{{"oncall@shop.example", "operator"}, {"intern@shop.example", "viewer"}} {
		t.Run(tc.wantRole, func(t *testing.T) {
			fi := newFakeIssuer(t, tc.email)
			addr := freeAddr(t)
			cfg := console.Config{Addr: addr, SessionTTL: time.Hour, RecentRequests: 10, RecentClients: 100, MetricsAddr: "127.0.0.1:0",
				OIDCIssuer: fi.srv.URL, OIDCClientID: "bulwark-console", OIDCRedirectURL: "http://" + addr + "/auth/callback",
				OIDCOperators: []string{"oncall@shop.example"}}
			srv, err := console.New(cfg, kafkatest.Config(b), overrides.DefaultLimits(), nil, nil, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = srv.Run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done })

			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
			resp, err := c.Get(srv.URL() + "/auth/login?next=/clients/ip:192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "oidc:"+tc.email+" ("+tc.wantRole+")") {
				t.Fatalf("after OIDC login: %d %s", resp.StatusCode, body)
			}
			if fi.pkceChecked != 1 {
				t.Fatalf("token requests with a matching PKCE verifier: %d", fi.pkceChecked)
			}
			canAct := strings.Contains(string(body), `id="act-form"`)
			if canAct != (tc.wantRole == "operator") {
				t.Fatalf("%s sees the action form: %v", tc.wantRole, canAct)
			}
			// A forged callback (no state cookie, made-up code) is refused.
			resp, err = http.Get(srv.URL() + "/auth/callback?code=x&state=y")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("forged callback: %d", resp.StatusCode)
			}
		})
	}
}
