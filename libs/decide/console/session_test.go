package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browserClient signs in through the login form, as a browser does, and
// returns the client (with its session cookie) and a page's CSRF token.
func browserClient(t *testing.T, fx *fixture, token string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) string {
		resp, err := c.Get(fx.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := csrfRE.FindStringSubmatch(get("/login"))
	if m == nil {
		t.Fatal("login form without CSRF token")
	}
	resp, err := c.PostForm(fx.url+"/login", url.Values{"csrf": {m[1]}, "token": {token}, "next": {"/clients/ip:192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "<h1>ip:192.0.2.1</h1>") {
		t.Fatalf("after login: %d %.300s", resp.StatusCode, b)
	}
	m = csrfRE.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("page without CSRF token")
	}
	return c, m[1]
}

// TestSessionCSRF: a signed-in browser's POST needs the session's CSRF
// token; without it, or with another session's, it is refused and nothing
// is done. The login form itself needs the pre-session token.
func TestSessionCSRF(t *testing.T) {
	fx := start(t)
	c, token := browserClient(t, fx, operatorToken)
	_, other := browserClient(t, fx, operatorToken)
	post := func(form url.Values) (int, string) {
		resp, err := c.PostForm(fx.url+"/actions", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	block := url.Values{"subject": {"192.0.2.1"}, "action": {"block"}, "ttl": {"1h"}}
	for name, csrf := range map[string]string{"no token": "", "another session's token": other, "garbage": "x"} {
		form := url.Values{}
		for k, v := range block {
			form[k] = v
		}
		if csrf != "" {
			form.Set("csrf", csrf)
		}
		if code, body := post(form); code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
			t.Fatalf("%s: %d %s", name, code, body)
		}
	}
	if fx.effective(t, "ip:192.0.2.1") != "ALLOW" {
		t.Fatal("a refused POST acted")
	}
	block.Set("csrf", token)
	if code, body := post(block); code != http.StatusOK || !strings.Contains(body, "block: ok") {
		t.Fatalf("with the token: %d %.300s", code, body)
	}

	// The login form: no pre-session cookie, no login.
	resp, err := http.PostForm(fx.url+"/login", url.Values{"token": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) > 0 && resp.Cookies()[0].Name == "bulwark_console" {
		t.Fatalf("login without the form's token: %d %v", resp.StatusCode, resp.Cookies())
	}
}

// TestSecurityHeaders: every answer, the login page included, has the
// strict CSP, and the session cookie is HttpOnly and SameSite=Strict.
func TestSecurityHeaders(t *testing.T) {
	fx := start(t)
	resp, err := http.Get(fx.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ = c.Get(fx.url + "/login")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindStringSubmatch(string(b))
	resp, err = c.PostForm(fx.url+"/login", url.Values{"csrf": {m[1]}, "token": {viewerToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var set string
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "bulwark_console=") {
			set = h
		}
	}
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Strict") {
		t.Fatalf("session cookie %q", set)
	}
}
