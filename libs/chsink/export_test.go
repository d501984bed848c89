package chsink

// SetAfterInsert installs the hook that runs between an acknowledged insert
// and the offset commit; an error from it ends Run like a crash.
func (s *Sink) SetAfterInsert(f func(table string) error) { s.afterInsert = f }
