package shipper

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A recChunk holds the records of up to chunkRecords lines and the bytes of
// their keys and values. The encoder fills one chunk at a time; each record
// produced from it holds a reference, dropped in its promise, and the
// encoder holds one until the chunk is full. The last to let go puts the
// chunk back in the pool, so records, keys and values are reused instead of
// allocated per line, and kgo never sees a buffer reused under it: a promise
// is the client's last use of its record.
type recChunk struct {
	recs []shipRec
	n    int
	buf  []byte
	refs atomic.Int32
}

// shipRec is a record with what its promise needs. The record's Context
// points at meta (kgo passes the record's Context through untouched, and
// cancels with it like with the Produce ctx, which meta embeds), so one
// promise function serves every record without a closure per line.
type shipRec struct {
	kgo.Record
	meta recMeta
}

type recMeta struct {
	context.Context
	chunk  *recChunk
	seq    uint64
	offset int64
	hash   int32 // the key's, for hashedPartitioner
}

const (
	chunkRecords = 512
	chunkBytes   = 192 << 10 // nginx events take about 250 bytes
)

var chunkPool = sync.Pool{New: func() any {
	c := &recChunk{recs: make([]shipRec, chunkRecords), buf: make([]byte, 0, chunkBytes)}
	for i := range c.recs {
		c.recs[i].meta.chunk = c
	}
	return c
}}

// getChunk returns an empty chunk whose records cancel with ctx, holding
// the encoder's reference.
func getChunk(ctx context.Context) *recChunk {
	c := chunkPool.Get().(*recChunk)
	for i := range c.recs {
		c.recs[i].meta.Context = ctx
	}
	c.refs.Store(1)
	return c
}

// next reserves the next record and n bytes for its key and value, carved
// from the chunk's buffer while it has room (a chunk whose buffer ran out
// before its records gives a record its own allocation); the caller then
// counts the record (c.n++) or gives it back with unuse.
func (c *recChunk) next(n int) (*shipRec, []byte) {
	c.refs.Add(1)
	l := len(c.buf)
	if n > cap(c.buf)-l {
		return &c.recs[c.n], make([]byte, n)
	}
	c.buf = c.buf[:l+n]
	return &c.recs[c.n], c.buf[l : l+n : l+n]
}

// unuse gives back the reserved record unused.
func (c *recChunk) unuse() { c.release() }

// release drops one reference; the last returns the chunk to the pool.
func (c *recChunk) release() {
	if c.refs.Add(-1) != 0 {
		return
	}
	for i := range c.recs[:c.n] {
		c.recs[i].Record = kgo.Record{}
		c.recs[i].meta.Context = nil
	}
	c.n, c.buf = 0, c.buf[:0]
	chunkPool.Put(c)
}
