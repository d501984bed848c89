package rules

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/detect/model"
)

func TestModelSection(t *testing.T) {
	f := func(yaml string, want ModelSpec, wantErr string) {
		t.Helper()
		rs, err := Parse([]byte("version: 1\n"+yaml), "/etc/bulwark/rules.yaml")
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: err = %v, want one mentioning %q", yaml, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", yaml, err)
		}
		if rs.Model != want {
			t.Errorf("%q: model %+v, want %+v", yaml, rs.Model, want)
		}
	}
	f("", ModelSpec{}, "")
	f("model: {file: model.json}", ModelSpec{File: filepath.FromSlash("/etc/bulwark/model.json"), Mode: model.Shadow, Weight: DefaultModelWeight}, "")
	f("model: {file: /srv/m.json, mode: blend, weight: 0.6}", ModelSpec{File: "/srv/m.json", Mode: model.Blend, Weight: 0.6}, "")
	f("model: {file: m.json, mode: replace}", ModelSpec{File: filepath.FromSlash("/etc/bulwark/m.json"), Mode: model.Replace, Weight: DefaultModelWeight}, "")
	f("model: {file: m.json, mode: loud}", ModelSpec{}, "model.mode")
	f("model: {file: m.json, weight: 2}", ModelSpec{}, "model.weight")
	f("model: {mode: blend}", ModelSpec{}, "need a file")
}
