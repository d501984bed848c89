package shipper

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sys/cpu"
)

// A recChunk holds the records of up to chunkRecords lines and the bytes of
// their keys and values. The encoder fills one chunk at a time; each record
// produced from it holds a reference, dropped in its promise, and the
// encoder holds one until the chunk is full. The last to let go puts the
// chunk back in the pool, so records, keys and values are reused instead of
// allocated per line, and kgo never sees a buffer reused under it: a promise
// is the client's last use of its record.
//
// References are counted without an atomic add per record on the
// encoder's side: the count starts at refsBias, every promise takes one
// off, and the encoder, done with the chunk, takes off refsBias less the
// records it handed out. The count can only reach zero once both are done.
// refs sits on its own cache line: the promises write it while a worker
// writes n and buf.
type recChunk struct {
	recs []shipRec
	n    int
	buf  []byte
	_    cpu.CacheLinePad
	refs atomic.Int64
	_    cpu.CacheLinePad
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
	refsBias     = 1 << 40   // more than a chunk's records
)

var chunkPool = sync.Pool{New: func() any {
	c := &recChunk{recs: make([]shipRec, chunkRecords), buf: make([]byte, 0, chunkBytes)}
	for i := range c.recs {
		c.recs[i].meta.chunk = c
	}
	return c
}}

// getChunk returns an empty chunk, held by the caller until done.
func getChunk() *recChunk {
	c := chunkPool.Get().(*recChunk)
	c.refs.Store(refsBias)
	return c
}

// next reserves the next record and n bytes for its key and value, carved
// from the chunk's buffer while it has room (a chunk whose buffer ran out
// before its records gives a record its own allocation); the caller then
// counts the record (c.n++) or leaves it for the next line. The record's
// meta holds ctx.
func (c *recChunk) next(ctx context.Context, n int) (*shipRec, []byte) {
	sr := &c.recs[c.n]
	sr.meta.Context = ctx
	l := len(c.buf)
	if n > cap(c.buf)-l {
		return sr, make([]byte, n)
	}
	c.buf = c.buf[:l+n]
	return sr, c.buf[l : l+n : l+n]
}

// done drops the encoder's hold: the chunk goes back to the pool once its
// records' promises have all run.
func (c *recChunk) done() { c.drop(refsBias - int64(c.n)) }

// release drops a record's reference, from its promise.
func (c *recChunk) release() { c.drop(1) }

// drop takes k references off; whoever takes the last returns the chunk to
// the pool. Records are not cleared: prepare sets every field of the next.
func (c *recChunk) drop(k int64) {
	if c.refs.Add(-k) != 0 {
		return
	}
	c.n, c.buf = 0, c.buf[:0]
	chunkPool.Put(c)
}
