package logparse

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// Every JSON format (nginx-json, Cloudflare Logpush, Caddy, Traefik JSON,
// Google Cloud load balancers, Fastly, and --json-fields renamings) is a
// declaration: a jsonSpec mapping JSON keys to the field kinds the
// template matcher knows. One scanner walks a line's object once, looks
// each key up in the spec's tables and hands the value to the template's
// field code (assign), and the template's finish resolves the client and
// escapes the text; so a status, a duration, a time or an address is read
// the same way in every format, text or JSON.

// The JSON formats use github.com/valyala/fastjson rather than
// encoding/json: a reused fastjson.Parser parses a line into values that
// point into its own buffer, unescaping strings in place, so a line costs
// no allocation at all, where encoding/json allocates for every string and
// map and runs several times slower. Its values live until the next Parse,
// which is the lifetime this package promises anyway.

// jsonSpec declares a JSON format.
type jsonSpec struct {
	// fields maps a dotted path of keys ("request.headers.User-Agent") to
	// what its value holds.
	fields map[string]fieldKind
	// foldCase lists objects (by dotted path) whose keys are compared
	// case-insensitively: header maps.
	foldCase []string
	// timeField and noTime make the error of a line without a time.
	timeField, noTime string
	// remoteField names the client address in errors; remoteRequired
	// refuses a line without it rather than taking the last
	// X-Forwarded-For hop as the peer.
	remoteField    string
	remoteRequired bool
	// absoluteURL: the request target is a full URL whose host and path are
	// split.
	absoluteURL bool
	// cookies is the key of an object of cookies by name (Logpush's
	// Cookies), where the session cookie is looked up.
	cookies string
}

// jsonTable is the keys of one JSON object.
type jsonTable struct {
	// byLen holds the keys by their length. Written by hand rather than a
	// map: a map hashes every key of every line, where a length and a
	// comparison or two find the few keys a format reads (a third less
	// time per Logpush line, measured).
	byLen    [][]*jsonKey
	foldCase bool
	visit    func(key []byte, v *fastjson.Value) // bound once: a closure made per line would allocate
}

// jsonKey is a key's field, or the table of the object it holds.
type jsonKey struct {
	key   string
	field templateField
	sub   *jsonTable
}

func (t *jsonTable) lookup(k string) *jsonKey {
	if len(k) >= len(t.byLen) {
		return nil
	}
	for _, e := range t.byLen[len(k)] {
		if e.key == k {
			return e
		}
	}
	return nil
}

func (t *jsonTable) add(k *jsonKey) {
	for len(t.byLen) <= len(k.key) {
		t.byLen = append(t.byLen, nil)
	}
	t.byLen[len(k.key)] = append(t.byLen[len(k.key)], k)
}

// jsonParser parses the lines of one jsonSpec.
type jsonParser struct {
	templateParser
	jp   fastjson.Parser
	spec *jsonSpec
	root *jsonTable
	// Per line, filled while visiting the object.
	ev       *eventpb.RequestEvent
	st       lineState
	haveTime bool
	err      error
	lower    [64]byte // a folded key, looked up without allocating
}

// newJSON builds the parser of spec; session is the key path of the
// session id ("" for none); renames maps a key a log uses to the spec's key
// it stands for.
func newJSON(c common, spec *jsonSpec, session string, renames map[string]string) *jsonParser {
	p := &jsonParser{spec: spec}
	p.templateParser = templateParser{nginxParser: nginxParser{common: c}, jsonText: true,
		remoteField: spec.remoteField, remoteRequired: spec.remoteRequired}
	fields := make(map[string]fieldKind, len(spec.fields)+len(renames)+2)
	for path, k := range spec.fields {
		fields[path] = k
	}
	if session != "" {
		fields[session] = kSession
	}
	if c.opts.SessionCookie != "" && spec.cookies != "" {
		fields[spec.cookies+"."+c.opts.SessionCookie] = kSession
	}
	// Renamed keys read what the key they stand for reads; the spec's own
	// names keep working.
	for key, name := range renames {
		fields[key] = fields[name]
	}
	p.root = p.table("", fields)
	return p
}

// table builds the table of the object at prefix (its keys' paths start
// with prefix + ".").
func (p *jsonParser) table(prefix string, fields map[string]fieldKind) *jsonTable {
	t := &jsonTable{foldCase: slices.Contains(p.spec.foldCase, prefix)}
	t.visit = func(key []byte, v *fastjson.Value) { p.visitKey(t, key, v) }
	subs := map[string]bool{}
	for path, kind := range fields {
		rest, ok := strings.CutPrefix(path, prefix)
		if prefix != "" && (!ok || !strings.HasPrefix(rest, ".")) {
			continue
		}
		if prefix != "" {
			rest = rest[1:]
		}
		key, _, nested := strings.Cut(rest, ".")
		if t.foldCase {
			key = strings.ToLower(key)
		}
		if nested {
			subs[key] = true
			continue
		}
		name := key
		if kind == kSession && p.opts.SessionField != "" {
			name = p.opts.SessionField
		}
		t.add(&jsonKey{key: key, field: templateField{kind: kind, name: name}})
	}
	for key := range subs {
		sub := p.table(strings.TrimPrefix(prefix+"."+key, "."), fields)
		if k := t.lookup(key); k != nil { // a key that is both a value and an object
			k.sub = sub
		} else {
			t.add(&jsonKey{key: key, sub: sub})
		}
	}
	return t
}

func (p *jsonParser) Parse(line []byte, ev *eventpb.RequestEvent) error {
	if err := p.begin(line, ev); err != nil {
		return err
	}
	v, err := p.jp.ParseBytes(line)
	if err != nil {
		return perr(p.format, ErrBadSyntax, "", 0, err.Error())
	}
	o, err := v.Object()
	if err != nil {
		return perr(p.format, ErrBadSyntax, "", 1, "want a JSON object")
	}
	p.ev, p.err, p.st, p.haveTime = ev, nil, lineState{}, false
	o.Visit(p.root.visit)
	p.ev = nil
	if p.err != nil {
		return p.err
	}
	if !p.haveTime {
		return perr(p.format, ErrBadSyntax, p.spec.timeField, 0, p.spec.noTime)
	}
	return p.finish(ev, &p.st, p.spec.absoluteURL)
}

// visitKey handles one key of an object of table t.
func (p *jsonParser) visitKey(t *jsonTable, key []byte, v *fastjson.Value) {
	if p.err != nil {
		return
	}
	k := b2s(key)
	if t.foldCase {
		if len(key) > len(p.lower) {
			return // no header Bulwark reads has so long a name
		}
		for i, c := range key {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			p.lower[i] = c
		}
		k = b2s(p.lower[:len(key)])
	}
	jk := t.lookup(k)
	if jk == nil {
		return
	}
	if jk.sub != nil && v.Type() == fastjson.TypeObject {
		o, _ := v.Object()
		o.Visit(jk.sub.visit)
		return
	}
	if jk.field.kind != kSkip {
		p.err = p.value(&jk.field, v)
	}
}

// value converts one JSON value: strings (and the first string of an
// array of header values) go through the template's field code, as do
// numbers by their text, except where a JSON number carries more than its
// text would parse as (fractions, exponents).
func (p *jsonParser) value(fd *templateField, v *fastjson.Value) error {
	ev, st := p.ev, &p.st
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeArray:
		a, _ := v.Array()
		if len(a) == 0 {
			return nil
		}
		return p.value(fd, a[0])
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		if len(b) == 0 && isNumeric(fd.kind) {
			return nil // nginx logs an unset variable as ""
		}
		return p.assign(fd, b, -1, ev, st, &p.haveTime) // -1: JSON errors name the key, not a column
	case fastjson.TypeNumber:
		return p.number(fd, v)
	}
	// Objects and booleans: nothing Bulwark reads, but where a time or a
	// number belongs they are a broken line.
	switch {
	case timeRank(fd.kind) > 1 || fd.kind == kTimeLocal:
		return perr(p.format, ErrBadTime, fd.name, 0, "want seconds since the epoch or a date")
	case isNumeric(fd.kind):
		return perr(p.format, ErrBadSyntax, fd.name, 0, "want a number")
	}
	return nil
}

func isNumeric(k fieldKind) bool {
	switch k {
	case kStatus, kBodyBytes, kBytesSent, kSeconds, kMillis, kMicros, kNanos, kOriginMillis, kCDNASN, kCDNBotScore:
		return true
	}
	return false
}

func (p *jsonParser) number(fd *templateField, v *fastjson.Value) error {
	ev, st := p.ev, &p.st
	switch fd.kind {
	case kTimeEpoch, kStatus, kBodyBytes, kBytesSent, kSeconds, kMillis, kMicros, kNanos, kOriginMillis:
	default:
		// Integers (epochs in any unit, AS numbers, scores) and numbers
		// where text is usual: by their text, as if quoted. The text stays
		// in the scratch buffer: a field may keep it.
		n := len(p.scratch)
		p.scratch = v.MarshalTo(p.scratch)
		return p.assign(fd, p.scratch[n:], -1, ev, st, &p.haveTime)
	}
	f, err := v.Float64()
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		if fd.kind == kTimeEpoch {
			return perr(p.format, ErrBadTime, fd.name, 0, "timestamp out of range")
		}
		return perr(p.format, ErrBadSyntax, fd.name, 0, "want a non-negative number")
	}
	switch fd.kind {
	case kTimeEpoch:
		// From the number's text when it is plain decimal: a float64
		// cannot hold nanoseconds of a current epoch exactly.
		n := len(p.scratch)
		p.scratch = v.MarshalTo(p.scratch)
		ns, why := parseEpochSeconds(b2s(p.scratch[n:]))
		p.scratch = p.scratch[:n]
		if why != "" {
			if f >= float64(maxEpochNs/int64(time.Second)) {
				return perr(p.format, ErrBadTime, fd.name, 0, "timestamp out of range")
			}
			ns = int64(math.Round(f*1e6)) * int64(time.Microsecond)
		}
		setTime(ev, st, fd.kind, ns, &p.haveTime)
	case kStatus:
		if f > 999 || f != math.Trunc(f) {
			return perr(p.format, ErrBadSyntax, fd.name, 0, "want a status code")
		}
		ev.Status = uint32(f)
	case kBodyBytes, kBytesSent:
		if f >= 1<<63 || f != math.Trunc(f) {
			return perr(p.format, ErrBadSyntax, fd.name, 0, "want a byte count")
		}
		if fd.kind == kBodyBytes || !st.haveBody {
			ev.ResponseBytes = uint64(f)
		}
		st.haveBody = st.haveBody || fd.kind == kBodyBytes
	case kSeconds, kMillis, kMicros, kNanos, kOriginMillis:
		p.setDuration(ev, st, fd.kind, f)
	}
	return nil
}
