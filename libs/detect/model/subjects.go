package model

import (
	"fmt"
	"slices"
)

// Subject kinds a model file says it scores (File.Subjects).
const (
	// SubjectIP: ip: subjects. A file that names no kinds scores these
	// (every model trained before sessions could be learned).
	SubjectIP = "ip"
	// SubjectSession: session: subjects named by the log's own session id
	// (an application's session, e.g. of an anonymised log), never a
	// session the aggregator derives from address and user agent: a derived
	// session behind an office NAT mixes many people into one subject
	// (aggregator/model.go).
	SubjectSession = "session"
)

// subjectSet is the compiled File.Subjects.
type subjectSet struct{ ip, session bool }

func compileSubjects(kinds []string) (subjectSet, error) {
	if len(kinds) == 0 {
		return subjectSet{ip: true}, nil
	}
	var s subjectSet
	for _, k := range kinds {
		switch k {
		case SubjectIP:
			s.ip = true
		case SubjectSession:
			s.session = true
		default:
			return s, fmt.Errorf("%w: subjects: %q (want %q or %q)", ErrFormat, k, SubjectIP, SubjectSession)
		}
	}
	return s, nil
}

// ScoresIPs reports whether the model scores ip: subjects.
func (m *Model) ScoresIPs() bool { return m.subjects.ip }

// ScoresSessions reports whether the model scores the session: subjects of
// the log's own session ids.
func (m *Model) ScoresSessions() bool { return m.subjects.session }

// SubjectKinds is what File.Subjects says, with the default filled in.
func (f *File) SubjectKinds() []string {
	if len(f.Subjects) == 0 {
		return []string{SubjectIP}
	}
	return slices.Clone(f.Subjects)
}
