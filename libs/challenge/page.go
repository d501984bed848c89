package challenge

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"strconv"
	"strings"
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
// safe JavaScript literal).
func script(nonceHex string, bits int, interactive, widget bool, s Strings) template.JS {
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	r := strings.NewReplacer(
		"__NONCE__", js(nonceHex),
		"__BITS__", strconv.Itoa(bits),
		"__INTERACTIVE__", strconv.FormatBool(interactive),
		"__WIDGET__", strconv.FormatBool(widget),
		"__DONE__", js(s.Done),
		"__PRESS__", js(s.Press),
		"__WORKING__", js(s.Working),
	)
	return template.JS(r.Replace(pageJS))
}

//go:embed blocked.html.tmpl
var blockedHTML string

var blockedTmpl = template.Must(template.New("blocked").Parse(blockedHTML))
