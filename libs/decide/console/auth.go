package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Role is what a signed-in user may do; each role includes the ones below.
type Role int

// The roles, weakest first.
const (
	RoleNone Role = iota
	// RoleViewer looks clients and the overview up.
	RoleViewer
	// RoleOperator also blocks, challenges, allows, unblocks and labels.
	RoleOperator
	// RoleAdmin also changes policy.
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// Principal is who makes a request.
type Principal struct {
	Actor string `json:"u"`
	Role  Role   `json:"r"`
	// Expires is when the session ends (unix seconds).
	Expires int64 `json:"e"`
	// Nonce is random per login; the CSRF token is derived from it.
	Nonce string `json:"n"`
	// Bearer: authenticated by the Authorization header, which a browser
	// never adds by itself, so no CSRF token is needed.
	Bearer bool `json:"-"`
}

const (
	sessionCookie = "bulwark_console"
	// preCookie carries the nonce of the login form's CSRF token (and of
	// the OIDC round trip) before there is a session.
	preCookie  = "bulwark_console_pre"
	oidcCookie = "bulwark_console_oidc"
	csrfField  = "csrf"
)

// errBadCookie is any cookie that is not one we signed, or is expired.
var errBadCookie = errors.New("invalid or expired cookie")

// signer signs cookies with HMAC-SHA256. Written by hand rather than with
// a cookie library because the format is a dozen lines of the standard
// library and keeps the console free of a session framework.
type signer struct{ key []byte }

func newSigner(secret string) (signer, error) {
	if secret != "" {
		return signer{key: []byte(secret)}, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return signer{}, fmt.Errorf("session key: %w", err)
	}
	return signer{key: k}, nil
}

func (s signer) mac(kind string, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}

// sign returns payload and its MAC under kind, base64url, dot-separated.
func (s signer) sign(kind string, payload []byte) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(kind, payload))
}

// open checks a value made by sign with the same kind.
func (s signer) open(kind, value string) ([]byte, error) {
	p, m, ok := strings.Cut(value, ".")
	if !ok {
		return nil, errBadCookie
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(kind, payload)) {
		return nil, errBadCookie
	}
	return payload, nil
}

// csrf is the CSRF token of a session or login nonce.
func (s signer) csrf(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", []byte(nonce)))
}

func (s signer) checkCSRF(nonce, token string) bool {
	want := s.csrf(nonce)
	return nonce != "" && subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported systems (Go 1.24+ panics
		// itself rather than return an error); say so if it ever does.
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// staticToken is one configured token and the role it grants.
type staticToken struct {
	sum  [32]byte
	role Role
}

// tokens checks static tokens in constant time (of their SHA-256, so the
// length of a token does not leak either).
type tokens []staticToken

func newTokens(c Config) tokens {
	var ts tokens
	for _, t := range []struct {
		v    string
		role Role
	}{{c.Token, RoleAdmin}, {c.OperatorToken, RoleOperator}, {c.ViewerToken, RoleViewer}} {
		if t.v != "" {
			ts = append(ts, staticToken{sum: sha256.Sum256([]byte(t.v)), role: t.role})
		}
	}
	return ts
}

func (ts tokens) role(token string) Role {
	sum := sha256.Sum256([]byte(token))
	found := RoleNone
	for _, t := range ts {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found = t.role
		}
	}
	return found
}

// auth turns requests into principals.
type auth struct {
	sign   signer
	tokens tokens
	ttl    time.Duration
	secure bool
}

// principal returns who makes r: a bearer token, or a valid session
// cookie; RoleNone when neither.
func (a *auth) principal(r *http.Request, now time.Time) Principal {
	if hs := r.Header.Values("Authorization"); len(hs) > 1 {
		return Principal{} // ambiguous: which one would a proxy have checked?
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return Principal{}
		}
		role := a.tokens.role(strings.TrimSpace(tok))
		if role == RoleNone {
			return Principal{}
		}
		return Principal{Actor: "token:" + role.String(), Role: role, Bearer: true}
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return Principal{}
	}
	payload, err := a.sign.open(sessionCookie, c.Value)
	if err != nil {
		return Principal{}
	}
	var p Principal
	if err := json.Unmarshal(payload, &p); err != nil || now.Unix() >= p.Expires || p.Role < RoleViewer || p.Role > RoleAdmin {
		return Principal{}
	}
	return p
}

// startSession sets the session cookie of actor with role.
func (a *auth) startSession(w http.ResponseWriter, actor string, role Role, now time.Time) {
	p := Principal{Actor: actor, Role: role, Expires: now.Add(a.ttl).Unix(), Nonce: randomString(16)}
	payload, _ := json.Marshal(p) // a struct of strings and ints always encodes
	a.setCookie(w, sessionCookie, a.sign.sign(sessionCookie, payload), a.ttl)
}

func (a *auth) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secure,
	})
}

func (a *auth) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secure})
}

// preNonce returns the login nonce of r's pre-session cookie, setting a
// new one when there is none.
func (a *auth) preNonce(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil {
		if b, err := a.sign.open(preCookie, c.Value); err == nil {
			return string(b)
		}
	}
	n := randomString(16)
	a.setCookie(w, preCookie, a.sign.sign(preCookie, []byte(n)), time.Hour)
	return n
}

// checkPre checks a login form's CSRF token against the pre-session cookie.
func (a *auth) checkPre(r *http.Request) bool {
	c, err := r.Cookie(preCookie)
	if err != nil {
		return false
	}
	b, err := a.sign.open(preCookie, c.Value)
	return err == nil && a.sign.checkCSRF(string(b), r.PostFormValue(csrfField))
}
