package shop_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/devtools/shop"
)

func TestShop(t *testing.T) {
	srv := httptest.NewServer(shop.New())
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f := func(method, target, form string, wantStatus int, want string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+target, strings.NewReader(form))
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d, want %d", method, target, resp.StatusCode, wantStatus)
		}
		if got := string(body) + " " + resp.Header.Get("Location"); !strings.Contains(got, want) {
			t.Fatalf("%s %s: no %q in %.200s", method, target, want, got)
		}
	}
	f("GET", "/", "", 200, `<h1 id="title">Shop</h1>`)
	f("GET", "/product/10001?ref=mail", "", 200, `<p id="path">/product/10001?ref=mail</p>`)
	f("GET", "/product/99", "", 404, "No such product")
	f("GET", "/c/boots?page=2", "", 200, "Category boots")
	f("GET", "/search?q=%3Cb%3E", "", 200, "Search: &lt;b&gt;")
	f("GET", "/static/js/app.c04e5f2.js", "", 200, "")
	f("GET", "/img/p/10001/1.webp", "", 200, "")
	f("GET", "/api/cart/count", "", 200, `"count"`)
	f("POST", "/api/telemetry", "", 204, "")
	f("GET", "/.env", "", 404, "")
	f("GET", "/wp-login.php", "", 404, "")
	f("POST", "/login", "user=a&password=guess", 401, "Wrong user name or password")
	f("POST", "/login?next=/checkout", "user=a&password="+url.QueryEscape(shop.Password), 302, "/checkout")
	f("POST", "/login?next=//evil.example/", "user=a&password="+url.QueryEscape(shop.Password), 302, "/account")
	f("POST", "/api/auth/login", "user=a&password=x", 401, "wrong user name")
	f("POST", "/cart/add", "id=10001", 302, "/cart")
	f("POST", "/checkout", "", 302, "/checkout/confirmation")

	// Sizes are stable per path and realistic.
	size := func(p string) int {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return len(b)
	}
	if a, b := size("/product/10002"), size("/product/10002"); a != b || a < 40_000 || a > 80_000 {
		t.Fatalf("product page sizes %d, %d", a, b)
	}
}
