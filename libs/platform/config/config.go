// Package config loads a component's configuration from the environment.
//
// Every variable is prefixed BULWARK_. Load parses with caarlos0/env and then
// calls Validate on the result, so a bad value stops a program at start-up with
// a message that names the variable at fault.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Prefix is prepended to every environment variable Bulwark reads.
const Prefix = "BULWARK_"

// Validator is implemented by configs that check their values after parsing.
type Validator interface {
	Validate() error
}

// VarError is a configuration error attributed to one environment variable.
type VarError struct {
	Var string // full name, e.g. BULWARK_KAFKA_BROKERS
	Err error
}

func (e *VarError) Error() string { return e.Var + ": " + e.Err.Error() }
func (e *VarError) Unwrap() error { return e.Err }

// Invalid returns a VarError for the variable named by suffix (without prefix).
func Invalid(suffix, format string, args ...any) error {
	return &VarError{Var: Prefix + suffix, Err: fmt.Errorf(format, args...)}
}

// Load parses the environment into a new T and validates it.
func Load[T any]() (T, error) {
	return LoadFrom[T](nil)
}

// LoadFrom is Load over the given environment (nil means the process's).
// Tests use it to avoid touching os.Environ.
func LoadFrom[T any](environ map[string]string) (T, error) {
	var cfg T
	if err := Parse(&cfg, environ); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Parse fills cfg (a pointer to a struct) from the environment and validates it.
func Parse(cfg any, environ map[string]string) error {
	if err := Fill(cfg, environ); err != nil {
		return err
	}
	if err := validate(reflect.ValueOf(cfg)); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Fill is Parse without validation, for callers (the CLI) that override
// some fields with flags before the component validates the result.
func Fill(cfg any, environ map[string]string) error {
	opts := env.Options{Prefix: Prefix}
	if environ != nil {
		opts.Environment = environ
	}
	if err := env.ParseWithOptions(cfg, opts); err != nil {
		return fmt.Errorf("config: %w", nameVariables(cfg, flattenEnvError(err)))
	}
	return nil
}

// validate calls Validate on v and on every struct nested in it, innermost
// first, so a program's config made of component configs checks them all.
func validate(v reflect.Value) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.IsExported() && v.Field(i).Kind() == reflect.Struct {
			if err := validate(v.Field(i)); err != nil {
				return err
			}
		}
	}
	if val, ok := v.Interface().(Validator); ok {
		return val.Validate()
	}
	return nil
}

// flattenEnvError keeps caarlos0/env's messages, which already name the
// variable, but drops its "env: " aggregate prefix noise.
func flattenEnvError(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) == 1 {
		return agg.Errors[0]
	}
	return err
}

// nameVariables rewrites caarlos0/env's parse errors, which name the Go field
// ("Timeout"), to name the environment variable (BULWARK_SAMPLE_TIMEOUT) that
// an operator has to fix.
func nameVariables(cfg any, err error) error {
	var pe env.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	if key := envKey(reflect.TypeOf(cfg), Prefix, pe.Name); key != "" {
		return &VarError{Var: key, Err: pe.Err}
	}
	return err
}

// envKey finds the variable bound to the struct field called name, following
// nested structs and their envPrefix tags.
func envKey(t reflect.Type, prefix, name string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if f.Name == name && tag != "" {
			return prefix + tag
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && tag == "" {
			if k := envKey(ft, prefix+f.Tag.Get("envPrefix"), name); k != "" {
				return k
			}
		}
	}
	return ""
}
