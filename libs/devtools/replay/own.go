package replay

import (
	"unsafe"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// arena holds the bytes of the strings of parsed events. A parser's event
// aliases its line and its scratch buffers, and the engine runs on another
// goroutine, so every string is copied here. Chunks are small and never
// reused: the engine keeps some events (as clones that share string bytes)
// for up to an hour, and a kept string pins only its small chunk. One copy
// into a chunk is much cheaper than an allocation per string.
type arena struct {
	buf []byte
}

const arenaChunk = 16 << 10

func (a *arena) str(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > cap(a.buf)-len(a.buf) {
		if len(s) > arenaChunk/4 {
			return string(append([]byte(nil), s...))
		}
		a.buf = make([]byte, 0, arenaChunk)
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	b := a.buf[start:len(a.buf):len(a.buf)]
	return unsafe.String(&b[0], len(b))
}

// optionals holds an event's optional scalar fields, which the parser
// points into its own state.
type optionals struct {
	requestTime    float64
	acceptLanguage string
	botScore       uint32
	verifiedBot    bool
}

// own makes ev independent of the parser: its strings move into a and its
// optional fields into o (which must live as long as ev).
func own(ev *eventpb.RequestEvent, a *arena, o *optionals) {
	ev.ClientIp = a.str(ev.ClientIp)
	ev.Method = a.str(ev.Method)
	ev.Host = a.str(ev.Host)
	ev.Path = a.str(ev.Path)
	ev.Query = a.str(ev.Query)
	ev.Protocol = a.str(ev.Protocol)
	ev.UserAgent = a.str(ev.UserAgent)
	ev.Referer = a.str(ev.Referer)
	ev.SessionId = a.str(ev.SessionId)
	ev.RemoteAddr = a.str(ev.RemoteAddr)
	ev.ForwardedFor = a.str(ev.ForwardedFor)
	ev.TlsVersion = a.str(ev.TlsVersion)
	ev.TlsCipher = a.str(ev.TlsCipher)
	ev.Ja3 = a.str(ev.Ja3)
	ev.Ja4 = a.str(ev.Ja4)
	ev.CdnCountry = a.str(ev.CdnCountry)
	ev.CdnRequestId = a.str(ev.CdnRequestId)
	ev.CdnSecurityAction = a.str(ev.CdnSecurityAction)
	ev.Source = a.str(ev.Source)
	ev.Format = a.str(ev.Format)
	ev.SourceFileId = a.str(ev.SourceFileId)
	ev.Malformed = a.str(ev.Malformed)
	ev.SecFetchMode = a.str(ev.SecFetchMode)
	ev.SecFetchDest = a.str(ev.SecFetchDest)
	ev.GeoCountry = a.str(ev.GeoCountry) // the CDN's, from the line, when Enrich copied it
	ev.AsOrg = a.str(ev.AsOrg)
	if ev.RequestTimeSeconds != nil {
		o.requestTime = *ev.RequestTimeSeconds
		ev.RequestTimeSeconds = &o.requestTime
	}
	if ev.AcceptLanguage != nil {
		o.acceptLanguage = a.str(*ev.AcceptLanguage)
		ev.AcceptLanguage = &o.acceptLanguage
	}
	if ev.CdnBotScore != nil {
		o.botScore = *ev.CdnBotScore
		ev.CdnBotScore = &o.botScore
	}
	if ev.CdnVerifiedBot != nil {
		o.verifiedBot = *ev.CdnVerifiedBot
		ev.CdnVerifiedBot = &o.verifiedBot
	}
}
