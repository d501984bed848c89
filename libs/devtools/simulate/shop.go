package simulate

import (
	"math/rand/v2"
	"strconv"
)

// The simulated shop's catalogue and site layout.
const (
	firstProduct = 10001
	productCount = 6000
	pagesPerCat  = 40
)

var (
	categories = []string{"sneakers", "boots", "running", "jackets", "shirts", "trousers", "bags", "accessories", "sale", "new"}
	searches   = []string{"air+max", "black+boots", "rain+jacket", "size+44", "gift+card", "wool+socks", "trail+running", "backpack", "linen+shirt", "sale+sneakers", "chelsea+boots", "gore-tex"}
	infoPages  = []string{"/about", "/faq", "/shipping", "/returns", "/contact", "/stores"}
	// Static assets of every page; a browser fetches them on its first page
	// view and then serves them from its cache.
	pageAssets = []asset{
		{"/static/css/app.3f9c2e1.css", 48_211},
		{"/static/js/vendor.91ab07d.js", 312_884},
		{"/static/js/app.c04e5f2.js", 96_410},
		{"/static/fonts/inter-var.woff2", 71_340},
		{"/static/img/logo.svg", 4_112},
	}
	searchReferers = []string{"https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/", "https://www.google.de/", "https://www.ecosia.org/"}
	socialReferers = []string{"https://l.instagram.com/", "https://t.co/", "https://www.facebook.com/", "https://www.tiktok.com/", "https://newsletter.shop.example/"}
	probePaths     = []string{
		"/.env", "/.env.local", "/.env.production", "/.git/config", "/.git/HEAD", "/wp-login.php", "/wp-admin/",
		"/wp-content/plugins/revslider/temp/update_extract/", "/xmlrpc.php", "/phpmyadmin/", "/phpmyadmin/index.php",
		"/pma/", "/admin.php", "/administrator/", "/config.json", "/config.php.bak", "/backup.zip", "/db.sql",
		"/server-status", "/actuator/env", "/actuator/health", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
		"/cgi-bin/luci/;stok=/locale", "/boaform/admin/formLogin", "/HNAP1/", "/.aws/credentials", "/.DS_Store",
		"/owa/auth/logon.aspx", "/remote/login", "/solr/admin/info/system", "/console/", "/_profiler/phpinfo",
		"/info.php", "/phpinfo.php", "/api/v1/pods", "/.well-known/security.txt", "/robots.txt", "/sitemap.xml",
		"/.svn/entries", "/web.config", "/wp-config.php.bak", "/laravel/.env", "/app/.env", "/api/.env",
	}
)

type asset struct {
	path  string
	bytes int
}

func productPath(id int) string { return "/product/" + strconv.Itoa(id) }

func categoryPath(cat string, page int) string {
	if page <= 1 {
		return "/c/" + cat
	}
	return "/c/" + cat + "?page=" + strconv.Itoa(page)
}

func randomProduct(rng *rand.Rand) int { return firstProduct + rng.IntN(productCount) }

// productImages are a product's gallery images.
func productImage(id, n int) asset {
	return asset{"/img/p/" + strconv.Itoa(id) + "/" + strconv.Itoa(n) + ".webp", 38_000 + (id*7919+n*104729)%90_000}
}

func productThumb(id int) asset {
	return asset{"/img/p/" + strconv.Itoa(id) + "/thumb.webp", 6_000 + (id*7919)%9_000}
}

// pageBytes is the size of an HTML page, stable per path.
func pageBytes(rng *rand.Rand, base int) int { return base + rng.IntN(base/4+1) }
