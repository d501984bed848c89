package challenge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// A token is the challenge a page carries: which client it was issued to,
// when, at which level, and the nonce the proof of work is over. It is
// signed rather than stored, so any replica of the gate or sidecar can
// check an answer to a page another one served.
type token struct {
	Nonce  [12]byte
	Issued time.Time
	Level  Level
	Net    netip.Prefix
	UAHash [8]byte
}

var errBadToken = errors.New("challenge token: invalid")

func newToken(ip netip.Addr, ua string, level Level, now time.Time) token {
	t := token{Issued: now, Level: level, UAHash: UAHash(ua)}
	_, _ = rand.Read(t.Nonce[:])
	c := NewClearance(ip, ua, level, t.Nonce, now, 0)
	t.Net = c.Net
	return t
}

func (t token) encode(ks *Keys) string {
	id, k := ks.signer()
	p := make([]byte, 0, 12+8+1+17+8)
	p = append(p, t.Nonce[:]...)
	p = binary.BigEndian.AppendUint64(p, uint64(t.Issued.UnixMilli()))
	p = append(p, byte(t.Level))
	a := t.Net.Addr().As16()
	p = append(p, a[:]...)
	p = append(p, byte(t.Net.Bits()))
	p = append(p, t.UAHash[:]...)
	head := "t." + id + "." + base64.RawURLEncoding.EncodeToString(p)
	return head + "." + base64.RawURLEncoding.EncodeToString(k.sum(nil, []byte(head)))
}

func parseToken(ks *Keys, s string) (token, error) {
	var t token
	parts := strings.Split(s, ".")
	if len(parts) != 4 || parts[0] != "t" {
		return t, errBadToken
	}
	k := ks.key(parts[1])
	if k == nil {
		return t, fmt.Errorf("%w: unknown key id", errBadToken)
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return t, errBadToken
	}
	if !hmac.Equal(mac, k.sum(nil, []byte(s[:len(s)-len(parts[3])-1]))) {
		return t, fmt.Errorf("%w: bad signature", errBadToken)
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(p) != 12+8+1+17+8 {
		return t, errBadToken
	}
	copy(t.Nonce[:], p[:12])
	t.Issued = time.UnixMilli(int64(binary.BigEndian.Uint64(p[12:20])))
	t.Level = Level(p[20])
	if t.Net, err = netip.AddrFrom16([16]byte(p[21:37])).Unmap().Prefix(int(p[37])); err != nil || !t.Level.valid() {
		return t, errBadToken
	}
	copy(t.UAHash[:], p[38:46])
	return t, nil
}

func (t token) nonceHex() string { return hex.EncodeToString(t.Nonce[:]) }

// powInput is what the page hashes: the nonce in hex, a colon, the counter
// in decimal; under 56 bytes, so one SHA-256 block.
func powInput(nonceHex string, counter uint64) []byte {
	return strconv.AppendUint([]byte(nonceHex+":"), counter, 10)
}

// checkPoW reports whether SHA-256(nonce:counter) starts with want zero bits.
func checkPoW(nonceHex, counter string, want int) bool {
	n, err := strconv.ParseUint(counter, 10, 64)
	if err != nil {
		return false
	}
	return leadingZeros(sha256.Sum256(powInput(nonceHex, n))) >= want
}

func leadingZeros(h [32]byte) int {
	n := 0
	for _, b := range h {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// solvePoW finds a counter the way the page does; tests and the benchmark
// use it to answer like a browser.
func solvePoW(nonceHex string, want int) uint64 {
	for n := uint64(0); ; n++ {
		if leadingZeros(sha256.Sum256(powInput(nonceHex, n))) >= want {
			return n
		}
	}
}
