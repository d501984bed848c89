package httpguard

// GuardScan runs a guarded connection's framing over b, read in two parts
// split at split, then closes it: how many bytes came before a refused
// request, and the refusal.
func GuardScan(g *Guard, b []byte, split int) (int, error) {
	c := &guardConn{g: g}
	defer c.releaseBody()
	split = min(max(split, 0), len(b))
	ok, err := c.scan(b[:split])
	if err != nil {
		return ok, err
	}
	ok2, err := c.scan(b[split:])
	return split + ok2, err
}
