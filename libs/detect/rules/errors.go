package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error about a rule file's content, so a
// caller can tell a bad file from one it could not read.
var ErrInvalid = errors.New("invalid rule file")

// Error is a problem in a rule file, with where it is: the file, the line
// (0 when the value came from the shipped default) and the field path
// ("rules[2].when").
type Error struct {
	Source string
	Line   int
	Field  string
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return ErrInvalid }

// errs collects every problem of a file, so an operator fixes them in one go.
type errs struct {
	source string
	root   *yaml.Node // the user's document, for line numbers
	list   []error
}

// at records a problem with the field at path (keys and indices).
func (e *errs) at(path []any, format string, args ...any) {
	e.list = append(e.list, &Error{Source: e.source, Line: line(e.root, path), Field: fieldName(path), Msg: fmt.Sprintf(format, args...)})
}

func (e *errs) err() error { return errors.Join(e.list...) }

var (
	yamlLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlNotFound = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
)

// decodeError turns yaml.v3's "line N: msg" errors into Errors, naming the
// field found at that line of the user's document.
func (e *errs) decodeError(err error) {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		le := lineError(e.source, m)
		if le.Line > 0 && le.Field == "" {
			le.Field = fieldName(pathAtLine(e.root, le.Line))
		}
		e.list = append(e.list, le)
	}
}

// pathAtLine returns the path of the deepest key or item on line.
func pathAtLine(root *yaml.Node, line int) []any {
	var best []any
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := append(append([]any{}, path...), k.Value)
				if k.Line == line || v.Line == line {
					best = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := append(append([]any{}, path...), i)
				// Items of a flow sequence ([1, 2]) share its line: name the sequence.
				if c.Line == line && len(p) > len(best) && n.Style&yaml.FlowStyle == 0 {
					best = p
				}
				walk(c, p)
			}
		}
	}
	if root != nil {
		walk(root, nil)
	}
	return best
}

func lineError(source, msg string) *Error {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		msg := m[2]
		if f := yamlNotFound.FindStringSubmatch(msg); f != nil {
			msg = fmt.Sprintf("unknown field %q", f[1])
		}
		return &Error{Source: source, Line: n, Msg: msg}
	}
	return &Error{Source: source, Msg: msg}
}

func fieldName(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		}
	}
	return b.String()
}

// line finds the line of the value at path in the user's document; when
// the path is not in it (the value is the default's) it returns the line
// of the deepest part that is, or 0.
func line(root *yaml.Node, path []any) int {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	best := 0
	for _, p := range path {
		if n == nil {
			break
		}
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
			}
		}
		if next == nil {
			break
		}
		n, best = next, next.Line
	}
	return best
}
