package challenge

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html"
	"html/template"
	"io"
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

// The challenge page differs between visitors only in its token, return
// path and nonce. Each kind of page (language, level) is rendered once with
// the template, with slots where those go, and served by splicing the
// values into the slots: executing html/template for every page was most
// of a page's cost.
const (
	tokenSlot  = "BULWARKTOKENSLOT"
	returnSlot = "BULWARKRETURNSLOT"
	nonceSlot  = "BULWARKNONCESLOT"
)

type pageKey struct {
	lang  string
	level Level
}

// compiledPage is a rendered page cut at its slots: parts[i] comes before
// the slot slots[i]; the last part ends the page. Parts are bytes so that
// writing them to any writer converts nothing.
type compiledPage struct {
	parts [][]byte
	slots []int // 0 token, 1 return, 2 nonce
	size  int
}

type pageCache struct{ m sync.Map } // pageKey -> *compiledPage

func (c *pageCache) get(k pageKey, data func() pageData) (*compiledPage, error) {
	if p, ok := c.m.Load(k); ok {
		return p.(*compiledPage), nil
	}
	d := data()
	d.Token, d.Return = tokenSlot, returnSlot
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, d); err != nil {
		return nil, err
	}
	p := compile(b.String())
	c.m.Store(k, p)
	return p, nil
}

func compile(page string) *compiledPage {
	p := &compiledPage{}
	names := []string{tokenSlot, returnSlot, nonceSlot}
	for {
		at, which := -1, -1
		for i, n := range names {
			if j := strings.Index(page, n); j >= 0 && (at < 0 || j < at) {
				at, which = j, i
			}
		}
		if at < 0 {
			p.parts = append(p.parts, []byte(page))
			p.size += len(page)
			return p
		}
		p.parts = append(p.parts, []byte(page[:at]))
		p.size += at
		p.slots = append(p.slots, which)
		page = page[at+len(names[which]):]
	}
}

// pageValues are what one visitor's page has of its own; ret is escaped
// for the HTML attribute it goes in, as the template would (token and nonce
// are base64url and hex, which need none).
type pageValues [3]string

func newPageValues(token, ret, nonce string) pageValues {
	return pageValues{token, html.EscapeString(ret), nonce}
}

// length is the page's size with these values (its Content-Length).
func (p *compiledPage) length(v pageValues) int {
	n := p.size
	for _, s := range p.slots {
		n += len(v[s])
	}
	return n
}

// writeTo writes the page with its values, part by part: the page is never
// assembled in a buffer of its own, which was most of the memory a page
// cost (the writer buffers anyway).
func (p *compiledPage) writeTo(w io.Writer, v pageValues) error {
	for i, part := range p.parts {
		if _, err := w.Write(part); err != nil {
			return err
		}
		if i < len(p.slots) {
			if _, err := io.WriteString(w, v[p.slots[i]]); err != nil {
				return err
			}
		}
	}
	return nil
}
