package console_test

import (
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/decide/console"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

func TestConfig(t *testing.T) {
	f := func(env map[string]string, want string) {
		t.Helper()
		_, err := config.LoadFrom[console.Config](env)
		if want == "" {
			if err != nil {
				t.Fatalf("%v: %v", env, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: error %v, want %q", env, err, want)
		}
	}
	tok := "0123456789abcdef0123"
	// No default password: no token and no OIDC is refused, naming the variable.
	f(map[string]string{}, "BULWARK_CONSOLE_TOKEN")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": tok}, "")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": "short"}, "BULWARK_CONSOLE_TOKEN: at least 16")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": tok, "BULWARK_CONSOLE_VIEWER_TOKEN": tok}, "own token")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": tok, "BULWARK_CONSOLE_ADDR": "8490"}, "BULWARK_CONSOLE_ADDR")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": tok, "BULWARK_CONSOLE_SESSION_KEY": "short"}, "BULWARK_CONSOLE_SESSION_KEY")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": tok, "BULWARK_CONSOLE_TLS_CERT_FILE": "c.pem"}, "BULWARK_CONSOLE_TLS_CERT_FILE")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": tok, "BULWARK_CONSOLE_SIDECARS": "sidecar:8480"}, "BULWARK_CONSOLE_SIDECARS")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": tok, "BULWARK_CONSOLE_GRAFANA_URL": "grafana"}, "BULWARK_CONSOLE_GRAFANA_URL")
	f(map[string]string{"BULWARK_CONSOLE_OIDC_ISSUER": "https://id.example"}, "BULWARK_CONSOLE_OIDC_CLIENT_ID")
	f(map[string]string{"BULWARK_CONSOLE_OIDC_ISSUER": "https://id.example", "BULWARK_CONSOLE_OIDC_CLIENT_ID": "c"}, "BULWARK_CONSOLE_OIDC_REDIRECT_URL")
	f(map[string]string{"BULWARK_CONSOLE_OIDC_ISSUER": "https://id.example", "BULWARK_CONSOLE_OIDC_CLIENT_ID": "c",
		"BULWARK_CONSOLE_OIDC_REDIRECT_URL": "https://console.example/auth/callback"}, "")
	f(map[string]string{"BULWARK_CONSOLE_OIDC_ISSUER": "id.example"}, "BULWARK_CONSOLE_OIDC_ISSUER")
	f(map[string]string{"BULWARK_CONSOLE_TOKEN": tok, "BULWARK_CONSOLE_RECENT_REQUESTS": "0"}, "BULWARK_CONSOLE_RECENT_REQUESTS")
}
