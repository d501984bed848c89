package tail

import (
	"fmt"
	"os"
	"syscall"
)

// Identity says which file a path pointed to: rotation by rename gives the
// path a new identity, copytruncate keeps the inode and replaces the
// content, which Gen tells apart: it counts the copytruncates of the inode
// seen so far, so that lines of the copy and of the new content, which share
// offsets, keep distinct identities (the shipper recognises lines it already
// sent by identity and offset).
type Identity struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	Gen uint64 `json:"gen,omitempty"`
}

func (id Identity) String() string {
	if id.Gen == 0 {
		return fmt.Sprintf("%d:%d", id.Dev, id.Ino)
	}
	return fmt.Sprintf("%d:%d#%d", id.Dev, id.Ino, id.Gen)
}

// IsZero reports whether id was never set.
func (id Identity) IsZero() bool { return id == Identity{} }

// SameFile reports whether id and o are the same inode, whatever its
// generation.
func (id Identity) SameFile(o Identity) bool { return id.Dev == o.Dev && id.Ino == o.Ino }

// nextGen is the identity of the inode's content after a copytruncate.
func (id Identity) nextGen() Identity { id.Gen++; return id }

// IdentityOf returns the identity of an open or stat'ed file.
func IdentityOf(fi os.FileInfo) Identity {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Identity{}
	}
	return Identity{Dev: uint64(st.Dev), Ino: st.Ino} //nolint:unconvert // Dev is int32 on some platforms
}
