package rules

import (
	"bytes"

	"go.yaml.in/yaml/v3"
)

// IsEmpty reports whether data holds no YAML content at all: nothing, or
// only whitespace, comments, document markers or a null. Such a file changes
// nothing over the shipped default, which is what a truncated file (`: >
// rules.yaml`, an editor's first step when it saves) also looks like; the
// decider's reloader uses this to refuse falling back to the default
// silently. An explicit `{}` or `version: 1` is content: an operator who
// means the default writes one of them. Undecodable data is not empty (Parse
// reports it).
func IsEmpty(data []byte) bool {
	if len(bytes.TrimSpace(data)) == 0 {
		return true // tabs alone do not even decode as YAML
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return false
	}
	if root.Kind == 0 {
		return true
	}
	if root.Kind != yaml.DocumentNode {
		return false
	}
	for _, n := range root.Content {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
			return false
		}
	}
	return true
}
