package tail

import (
	"fmt"
	"os"
	"syscall"
)

// Identity says which file a path pointed to: rotation by rename gives the
// path a new identity, copytruncate keeps the identity and shrinks the file.
type Identity struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

func (id Identity) String() string { return fmt.Sprintf("%d:%d", id.Dev, id.Ino) }

// IsZero reports whether id was never set.
func (id Identity) IsZero() bool { return id == Identity{} }

// IdentityOf returns the identity of an open or stat'ed file.
func IdentityOf(fi os.FileInfo) Identity {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Identity{}
	}
	return Identity{Dev: uint64(st.Dev), Ino: st.Ino} //nolint:unconvert // Dev is int32 on some platforms
}
