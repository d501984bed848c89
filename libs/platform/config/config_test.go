package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

type sample struct {
	Addr    string        `env:"SAMPLE_ADDR" envDefault:"127.0.0.1:1"`
	Timeout time.Duration `env:"SAMPLE_TIMEOUT" envDefault:"1s"`
	Name    string        `env:"SAMPLE_NAME,required"`
}

func (s sample) Validate() error {
	if s.Timeout <= 0 {
		return config.Invalid("SAMPLE_TIMEOUT", "must be positive, got %s", s.Timeout)
	}
	return nil
}

func TestLoad(t *testing.T) {
	f := func(environ map[string]string, wantErr string) {
		t.Helper()
		_, err := config.LoadFrom[sample](environ)
		if wantErr == "" {
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
	}
	f(map[string]string{"BULWARK_SAMPLE_NAME": "x"}, "")
	f(map[string]string{}, "BULWARK_SAMPLE_NAME")
	f(map[string]string{"BULWARK_SAMPLE_NAME": "x", "BULWARK_SAMPLE_TIMEOUT": "soon"}, "BULWARK_SAMPLE_TIMEOUT")
	f(map[string]string{"BULWARK_SAMPLE_NAME": "x", "BULWARK_SAMPLE_TIMEOUT": "-1s"}, "BULWARK_SAMPLE_TIMEOUT: must be positive")
}

type program struct {
	Sample sample
	Other  string `env:"OTHER"`
}

func TestNestedConfigsAreValidated(t *testing.T) {
	_, err := config.LoadFrom[program](map[string]string{"BULWARK_SAMPLE_NAME": "x", "BULWARK_SAMPLE_TIMEOUT": "-1s"})
	if err == nil || !strings.Contains(err.Error(), "BULWARK_SAMPLE_TIMEOUT") {
		t.Fatalf("nested Validate not called: %v", err)
	}
}

func TestVarOf(t *testing.T) {
	f := func(cfg any, field, wantName, wantDefault string) {
		t.Helper()
		v := config.VarOf(cfg, field)
		if v.Name != wantName || v.Default != wantDefault {
			t.Fatalf("VarOf(%T, %s) = %s (default %q), want %s (default %q)", cfg, field, v.Name, v.Default, wantName, wantDefault)
		}
	}
	f(sample{}, "Timeout", "BULWARK_SAMPLE_TIMEOUT", "1s")
	f(program{}, "Sample.Addr", "BULWARK_SAMPLE_ADDR", "127.0.0.1:1")
	f(&program{}, "Other", "BULWARK_OTHER", "")

	defer func() {
		if recover() == nil {
			t.Fatal("VarOf of a field without an env tag did not panic")
		}
	}()
	config.VarOf(program{}, "Sample")
}
