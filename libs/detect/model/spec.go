package model

import (
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Spec is the rule file's `model:` section, compiled: which model file the
// aggregator scores with, and how.
type Spec struct {
	File   string // "" for no model; a relative path is resolved against the rule file's folder
	Mode   Mode
	Weight float64 // 0..1, for blend
}

// SpecYAML is the `model:` section as written.
type SpecYAML struct {
	File   string   `yaml:"file"`
	Mode   string   `yaml:"mode"`
	Weight *float64 `yaml:"weight"`
}

// DefaultWeight is a model's weight in blend mode when none is given: at
// 0.8 the model alone reaches CHALLENGE (70) at p >= 0.875, which kept every
// simulated person unflagged while catching every simulated bot kind
// (BENCHMARKS.md, section model).
const DefaultWeight = 0.8

// SpecError is a fault in a `model:` section, naming its key.
type SpecError struct {
	Key string // "model", "model.mode", "model.weight"
	Err error
}

func (e *SpecError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *SpecError) Unwrap() error { return e.Err }

// Compile checks the section of the rule file ruleFile ("default" for the
// shipped one). A model is only trusted when the operator says so: the
// default mode is shadow.
func (y SpecYAML) Compile(ruleFile string) (Spec, error) {
	var out Spec
	if y.File == "" {
		if y.Mode != "" || y.Weight != nil {
			return out, &SpecError{"model", fmt.Errorf("mode and weight need a file")}
		}
		return out, nil
	}
	out.File = y.File
	if !filepath.IsAbs(y.File) && ruleFile != "default" && ruleFile != "" {
		out.File = filepath.Join(filepath.Dir(ruleFile), y.File)
	}
	out.Weight = DefaultWeight
	if y.Weight != nil {
		out.Weight = *y.Weight
		if !(out.Weight >= 0 && out.Weight <= 1) {
			return out, &SpecError{"model.weight", fmt.Errorf("must be within 0..1, got %v", out.Weight)}
		}
	}
	mode := y.Mode
	if mode == "" {
		mode = "shadow"
	}
	m, err := ParseMode(mode)
	if err != nil {
		return out, &SpecError{"model.mode", err}
	}
	out.Mode = m
	return out, nil
}

// LoadRuleFileSection reads the `model:` section of the rule file at path
// (the aggregator's view of the rule file, like
// scoring.LoadRuleFileSection; the decider checks the whole file).
func LoadRuleFileSection(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read rule file: %w", err)
	}
	var doc struct {
		Model SpecYAML `yaml:"model"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return Spec{}, fmt.Errorf("rule file %s: %w", path, err)
	}
	s, err := doc.Model.Compile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("rule file %s: %w", path, err)
	}
	return s, nil
}
