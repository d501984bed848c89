package challenge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"sync"
)

// minSecretBytes is the shortest secret accepted: HMAC-SHA256 keys shorter
// than 128 bits are guessable offline from one cookie.
const minSecretBytes = 16

// Keys signs with its first key and verifies with any of them, by key id,
// so a secret rotates without logging every visitor out: put the new secret
// first, keep the old one second until the old clearances have expired.
type Keys struct {
	signID string
	byID   map[string]*macKey
}

type macKey struct {
	secret []byte
	pool   sync.Pool // hash.Hash (HMAC-SHA256 with this key)
}

func newMACKey(secret []byte) *macKey {
	k := &macKey{secret: secret}
	k.pool.New = func() any { return hmac.New(sha256.New, k.secret) }
	return k
}

// sum appends HMAC-SHA256(key, msg) to dst.
func (k *macKey) sum(dst []byte, msg ...[]byte) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	for _, m := range msg {
		h.Write(m)
	}
	dst = h.Sum(dst)
	k.pool.Put(h)
	return dst
}

// ParseKeys reads a key list: "ID:SECRET,ID:SECRET,..." (first signs), or a
// single bare secret, whose id is then derived from it. Secrets are at least
// 16 bytes; ids are letters, digits, '-' and '_'.
func ParseKeys(spec string) (*Keys, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("no secret")
	}
	ks := &Keys{byID: map[string]*macKey{}}
	parts := strings.Split(spec, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		id, secret, ok := strings.Cut(p, ":")
		if !ok {
			if len(parts) > 1 {
				return nil, fmt.Errorf("key %d: want ID:SECRET when several keys are given", i+1)
			}
			secret = p
			sum := sha256.Sum256([]byte("bulwark key id\x00" + p))
			id = hex.EncodeToString(sum[:3])
		}
		if !validKeyID(id) {
			return nil, fmt.Errorf("key %d: id %q: want letters, digits, '-' or '_'", i+1, id)
		}
		if len(secret) < minSecretBytes {
			return nil, fmt.Errorf("key %q: secret is %d bytes, want at least %d", id, len(secret), minSecretBytes)
		}
		if _, dup := ks.byID[id]; dup {
			return nil, fmt.Errorf("key id %q given twice", id)
		}
		ks.byID[id] = newMACKey([]byte(secret))
		if i == 0 {
			ks.signID = id
		}
	}
	return ks, nil
}

// LoadKeys reads the key list from secret, or from the file when secret is
// empty (a Kubernetes secret mounted as a file); trailing newlines are
// ignored.
func LoadKeys(secret, file string) (*Keys, error) {
	if secret == "" && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read secret file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	return ParseKeys(secret)
}

// RandomKeys makes up a secret, for `bulwark dev` and tests: clearances
// signed with it die with the process.
func RandomKeys() *Keys {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	ks, err := ParseKeys("dev:" + hex.EncodeToString(b))
	if err != nil {
		panic(err)
	}
	return ks
}

func (ks *Keys) signer() (string, *macKey) { return ks.signID, ks.byID[ks.signID] }

func (ks *Keys) key(id string) *macKey { return ks.byID[id] }

func validKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
