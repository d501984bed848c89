package challenge

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"strconv"
	"strings"
	"sync"
)

//go:embed page.html.tmpl
var pageHTML string

//go:embed page.js
var pageJS string

var pageTmpl = template.Must(template.New("challenge").Parse(pageHTML))

// pageData fills page.html.tmpl.
type pageData struct {
	Lang        string
	S           Strings
	Token       string
	Return      string
	Interactive bool
	Script      template.JS
	Widget      template.HTML
	Error       string
	RetryURL    string
}

// script is page.js with its constants filled in (JSON, so any string is a
// safe JavaScript literal). All but the nonce depend on the page's kind
// and language only, so those are filled in once per kind (scripts) and
// the nonce per page: a strings.Replacer over the whole script was a third
// of a page's cost.
func script(nonceHex string, bits int, interactive, widget bool, s Strings) template.JS {
	key := scriptKey{bits, interactive, widget, s.Done + "\x00" + s.Press + "\x00" + s.Working}
	v, ok := scripts.Load(key)
	if !ok {
		js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
		v, _ = scripts.LoadOrStore(key, strings.NewReplacer(
			"__BITS__", strconv.Itoa(bits),
			"__INTERACTIVE__", strconv.FormatBool(interactive),
			"__WIDGET__", strconv.FormatBool(widget),
			"__DONE__", js(s.Done),
			"__PRESS__", js(s.Press),
			"__WORKING__", js(s.Working),
		).Replace(pageJS))
	}
	// nonceHex is hex: a JSON string without escaping.
	return template.JS(strings.Replace(v.(string), "__NONCE__", `"`+nonceHex+`"`, 1))
}

type scriptKey struct {
	bits                int
	interactive, widget bool
	words               string
}

// scripts caches script's output per kind (a handful of entries: three
// levels times the languages in use).
var scripts sync.Map

//go:embed blocked.html.tmpl
var blockedHTML string

var blockedTmpl = template.Must(template.New("blocked").Parse(blockedHTML))
