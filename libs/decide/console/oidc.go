package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	oidcLoginPath = "/auth/login"
	callbackPath  = "/auth/callback"
)

// oidcLogin signs people in with an OpenID Connect provider: the
// authorization code flow with PKCE (S256) and a nonce. The provider is
// discovered on first use and again after a failure, so the console starts
// while the provider is away.
type oidcLogin struct {
	cfg Config
	mu  sync.Mutex
	p   *oidc.Provider
}

func newOIDCLogin(cfg Config) *oidcLogin { return &oidcLogin{cfg: cfg} }

func (o *oidcLogin) provider(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.p != nil {
		return o.p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.OIDCIssuer)
	if err != nil {
		return nil, fmt.Errorf("discover OIDC provider %s (BULWARK_CONSOLE_OIDC_ISSUER): %w", o.cfg.OIDCIssuer, err)
	}
	o.p = p
	return p, nil
}

func (o *oidcLogin) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.OIDCClientID, ClientSecret: o.cfg.OIDCClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: o.cfg.OIDCRedirectURL, Scopes: []string{oidc.ScopeOpenID, "email"}}
}

// role maps an identity to a role: the configured admins and operators by
// e-mail or subject, everyone else the provider lets in is a viewer.
func (o *oidcLogin) role(email, sub string) Role {
	in := func(list []string) bool {
		return slices.ContainsFunc(list, func(v string) bool {
			v = strings.TrimSpace(v)
			return v != "" && (strings.EqualFold(v, email) || v == sub)
		})
	}
	switch {
	case in(o.cfg.OIDCAdmins):
		return RoleAdmin
	case in(o.cfg.OIDCOperators):
		return RoleOperator
	}
	return RoleViewer
}

// oidcState is what the console remembers between the redirect to the
// provider and the callback, in a signed cookie.
type oidcState struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
}

func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		jsonError(w, http.StatusNotFound, "OIDC login is not configured (BULWARK_CONSOLE_OIDC_ISSUER)")
		return
	}
	p, err := s.oidc.provider(r.Context())
	if err != nil {
		s.log.Error("oidc login", "err", err)
		jsonError(w, http.StatusBadGateway, err.Error())
		return
	}
	st := oidcState{State: randomString(16), Verifier: oauth2.GenerateVerifier(), Nonce: randomString(16),
		Next: safeNext(r.URL.Query().Get("next")), Expires: s.now().Add(10 * time.Minute).Unix()}
	b, _ := json.Marshal(st) // strings and an int always encode
	// SameSite=Lax would be needed for a cookie sent on the provider's
	// redirect back (a cross-site navigation); the state is bound by its
	// signature and expiry instead, so it is Lax only for this cookie.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: s.auth.sign.sign(oidcCookie, b), Path: callbackPath,
		MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.auth.secure})
	u := s.oidc.oauth2(p).AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce))
	http.Redirect(w, r, u, http.StatusFound)
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string, err error) {
		s.metrics.logins.WithLabelValues("oidc", "refused").Inc()
		s.log.Warn("oidc login refused", "why", msg, "err", err, "remote", r.RemoteAddr)
		s.render(w, r, status, "login.html", page{Title: "Sign in", Error: msg,
			CSRF: s.auth.sign.csrf(s.auth.preNonce(w, r)), Data: loginData{Next: "/", OIDC: s.oidc != nil}})
	}
	if s.oidc == nil {
		fail(http.StatusNotFound, "OIDC login is not configured.", nil)
		return
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		fail(http.StatusBadRequest, "The sign-in took too long or started elsewhere; try again.", err)
		return
	}
	b, err := s.auth.sign.open(oidcCookie, c.Value)
	var st oidcState
	if err != nil || json.Unmarshal(b, &st) != nil || s.now().Unix() > st.Expires {
		fail(http.StatusBadRequest, "The sign-in took too long or started elsewhere; try again.", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: callbackPath, MaxAge: -1, HttpOnly: true, Secure: s.auth.secure})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		fail(http.StatusUnauthorized, "The identity provider refused: "+e+" "+q.Get("error_description"), nil)
		return
	}
	if q.Get("state") != st.State {
		fail(http.StatusBadRequest, "The sign-in answer does not match this browser's request; try again.", nil)
		return
	}
	p, err := s.oidc.provider(r.Context())
	if err != nil {
		fail(http.StatusBadGateway, "The identity provider cannot be reached.", err)
		return
	}
	tok, err := s.oidc.oauth2(p).Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		fail(http.StatusUnauthorized, "The identity provider did not accept the sign-in code.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: s.cfg.OIDCClientID}).Verify(r.Context(), raw)
	if err != nil {
		fail(http.StatusUnauthorized, "The identity provider's ID token is not valid.", err)
		return
	}
	if idt.Nonce != st.Nonce {
		fail(http.StatusUnauthorized, "The ID token was not issued for this sign-in.", nil)
		return
	}
	var claims struct {
		Email    string `json:"email"`
		Verified *bool  `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		fail(http.StatusUnauthorized, "The ID token's claims cannot be read.", err)
		return
	}
	email := claims.Email
	if claims.Verified != nil && !*claims.Verified {
		email = "" // an unverified address grants nothing
	}
	role := s.oidc.role(email, idt.Subject)
	actor := "oidc:" + idt.Subject
	if email != "" {
		actor = "oidc:" + email
	}
	s.metrics.logins.WithLabelValues("oidc", "ok").Inc()
	s.log.Info("console login", "actor", actor, "role", role.String(), "remote", r.RemoteAddr)
	s.auth.startSession(w, actor, role, s.now())
	http.Redirect(w, r, st.Next, http.StatusSeeOther)
}
