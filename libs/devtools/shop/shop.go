// Package shop is the simulated shop as a real HTTP site: home, category,
// product, search, login, account, cart and checkout pages, static
// assets, product images and a small JSON API, with 404 for everything
// else (what vulnerability probes ask for). `bulwark dev` serves it behind
// bulwark-gate, so the simulated visitors (libs/devtools/visitors) are
// answered, challenged and blocked over real HTTP.
//
// Pages are padded to a size that is stable per path, like the simulator's
// log lines; their bytes come from one buffer made at start, so serving a
// page costs a header and a write.
package shop

import (
	"fmt"
	"hash/fnv"
	"html"
	"net/http"
	"strconv"
	"strings"
)

// Password is the password every account of the shop has: a visitor that
// means to log in sends it, a credential stuffer sends something else.
const Password = "correct-horse-battery"

// SessionCookie is the shop's session cookie, set at login.
const SessionCookie = "session"

// Product ids the catalogue has (as the simulator's).
const (
	FirstProduct = 10001
	Products     = 6000
)

// filler pads pages and stands in for asset bytes.
var filler = []byte(strings.Repeat("<!-- the simulated shop pads its pages to a realistic size -->\n", 8192))

// New returns the shop's handler.
func New() http.Handler {
	mux := http.NewServeMux()
	page := func(title string, base int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { writePage(w, r, http.StatusOK, title, base) }
	}
	mux.HandleFunc("GET /{$}", page("Shop", 60_000))
	mux.HandleFunc("GET /c/{cat}", func(w http.ResponseWriter, r *http.Request) {
		writePage(w, r, http.StatusOK, "Category "+r.PathValue("cat"), 45_000)
	})
	mux.HandleFunc("GET /product/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id < FirstProduct || id >= FirstProduct+Products {
			writePage(w, r, http.StatusNotFound, "No such product", 8_000)
			return
		}
		writePage(w, r, http.StatusOK, "Product "+strconv.Itoa(id), 52_000)
	})
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) {
		writePage(w, r, http.StatusOK, "Search: "+r.URL.Query().Get("q"), 40_000)
	})
	for _, p := range []string{"/cart", "/checkout", "/checkout/confirmation", "/account", "/account/orders", "/reviews",
		"/about", "/faq", "/shipping", "/returns", "/contact", "/stores", "/blog"} {
		mux.HandleFunc("GET "+p, page(strings.TrimPrefix(p, "/"), 24_000))
	}
	mux.HandleFunc("GET /login", page("Log in", 17_600))
	mux.HandleFunc("POST /login", login)
	mux.HandleFunc("POST /api/auth/login", login)
	mux.HandleFunc("POST /cart/add", redirect("/cart"))
	mux.HandleFunc("POST /checkout", redirect("/checkout/confirmation"))
	mux.HandleFunc("GET /robots.txt", text("User-agent: *\nDisallow: /cart\nDisallow: /checkout\nDisallow: /account\nSitemap: /sitemap.xml\n"))
	mux.HandleFunc("GET /sitemap.xml", sized("application/xml", 30_000))
	mux.HandleFunc("GET /favicon.ico", sized("image/x-icon", 4_286))
	mux.HandleFunc("GET /static/", sized("", 0))
	mux.HandleFunc("GET /img/", sized("image/webp", 0))
	mux.HandleFunc("POST /api/telemetry", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/api/", api)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The product sitemaps (/sitemap-products-N.xml) have a name the
		// mux's patterns cannot express.
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/sitemap-products-") && strings.HasSuffix(r.URL.Path, ".xml") {
			sized("application/xml", 200_000)(w, r)
			return
		}
		writePage(w, r, http.StatusNotFound, "Page not found", 8_000)
	})
	return mux
}

// size is a path's stable size around base (±25 %), or, with base 0, the
// size its name suggests for an asset.
func size(path string, base int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(path))
	if base == 0 {
		base = 40_000
		switch {
		case strings.HasSuffix(path, ".js"):
			base = 120_000
		case strings.HasSuffix(path, ".css"):
			base = 48_000
		case strings.HasSuffix(path, ".svg"):
			base = 4_000
		case strings.HasSuffix(path, "thumb.webp"):
			base = 9_000
		}
	}
	return base + int(h.Sum32()%uint32(base/4+1))
}

func writePage(w http.ResponseWriter, r *http.Request, status int, title string, base int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	head := fmt.Sprintf(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%s</title>`+
		`<link rel="stylesheet" href="/static/css/app.3f9c2e1.css"></head><body><h1 id="title">%s</h1><p id="path">%s</p>`,
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(r.URL.RequestURI()))
	_, _ = w.Write([]byte(head))
	pad(w, size(r.URL.Path, base)-len(head))
	_, _ = w.Write([]byte("</body></html>\n"))
}

func pad(w http.ResponseWriter, n int) {
	for n > 0 {
		k := min(n, len(filler))
		if _, err := w.Write(filler[:k]); err != nil {
			return
		}
		n -= k
	}
}

func sized(contentType string, base int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		n := size(r.URL.Path, base)
		w.Header().Set("Content-Length", strconv.Itoa(n))
		pad(w, n)
	}
}

func text(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(s))
	}
}

func redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) }
}

// login accepts Password for any user name: 302 to the account (or to
// ?next=, a path on this site) with a session cookie; 401 and the form
// again otherwise.
func login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("password") != Password {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSON(w, http.StatusUnauthorized, `{"error":"wrong user name or password"}`)
			return
		}
		writePage(w, r, http.StatusUnauthorized, "Wrong user name or password", 17_600)
		return
	}
	sid := fmt.Sprintf("%016x", fnvString(r.PostForm.Get("user")+r.RemoteAddr))
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, http.StatusOK, `{"ok":true}`)
		return
	}
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/account"
	}
	http.Redirect(w, r, next, http.StatusFound)
}

func fnvString(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// api answers the JSON API the simulated pages and bots call.
func api(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == "/api/cart/count":
		writeJSON(w, http.StatusOK, `{"count":1}`)
	case p == "/api/stock", p == "/api/prices", strings.HasPrefix(p, "/api/products"), strings.HasPrefix(p, "/api/search/"):
		writeJSON(w, http.StatusOK, `{"items":[{"id":10001,"price":89.9,"stock":4}]}`)
	case p == "/api/checkout/payment-intent" && r.Method == http.MethodPost:
		writeJSON(w, http.StatusOK, `{"client_secret":"pi_simulated"}`)
	default:
		writeJSON(w, http.StatusNotFound, `{"error":"no such endpoint"}`)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}
