package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Var describes one environment variable a configuration reads. Everything in
// it comes from the struct tags of the field that declares the variable
// (`env`, `envDefault`, `envSeparator`, `help`), so a setting is declared once
// and `bulwark config`, the README tables and the deploy checks all read the
// same declaration.
type Var struct {
	Name     string // full name, e.g. BULWARK_KAFKA_BROKERS
	Default  string // envDefault, "" when none
	Help     string // the help tag: what the setting does, in a sentence
	Type     string // duration, int, bool, list, string, ...
	Required bool
	Field    string // Go path of the field, e.g. Kafka.Brokers (for error messages)
}

// Describe lists the variables cfg (a struct or a pointer to one) reads, in
// declaration order, following nested structs and their envPrefix tags the way
// caarlos0/env does.
func Describe(cfg any) []Var {
	t := reflect.TypeOf(cfg)
	var out []Var
	describe(t, Prefix, "", &out)
	return out
}

func describe(t reflect.Type, prefix, path string, out *[]Var) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("env")
		name, opts, _ := strings.Cut(tag, ",")
		fpath := f.Name
		if path != "" {
			fpath = path + "." + f.Name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "-" {
			continue
		}
		if name == "" {
			if ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
				describe(ft, prefix+f.Tag.Get("envPrefix"), fpath, out)
			}
			continue
		}
		*out = append(*out, Var{
			Name:     prefix + name,
			Default:  f.Tag.Get("envDefault"),
			Help:     f.Tag.Get("help"),
			Type:     typeName(f.Type),
			Required: hasOpt(opts, "required") || hasOpt(opts, "notEmpty"),
			Field:    fpath,
		})
	}
}

// VarOf returns the variable that field (its Go path in cfg, e.g.
// "StopTimeout" or "Kafka.Brokers") declares, for code that must name a
// setting (a check, a message) without spelling its name again. It panics
// when the field declares none: a programming error, caught by any test
// that runs the caller.
func VarOf(cfg any, field string) Var {
	for _, v := range Describe(cfg) {
		if v.Field == field {
			return v
		}
	}
	panic(fmt.Sprintf("config: %T has no field %s with an env tag", cfg, field))
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

func typeName(t reflect.Type) string {
	switch {
	case t.PkgPath() == "time" && t.Name() == "Duration":
		return "duration"
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		return "list"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "int"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "float"
	default:
		return "string"
	}
}

// Program is one Bulwark program and the configuration structs it reads.
type Program struct {
	Name    string // e.g. bulwark-shipper
	Summary string // one line: what the program does
	Configs []any  // zero values of the config structs it loads
}

// Vars lists every variable the program reads, once each (programs share
// LogConfig and kafka.Config), in declaration order.
func (p Program) Vars() []Var {
	seen := map[string]bool{}
	var out []Var
	for _, c := range p.Configs {
		for _, v := range Describe(c) {
			if !seen[v.Name] {
				seen[v.Name] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// Check validates an environment against the program's configs: parsing and
// Validate, the same as at start-up, plus variables with the BULWARK_ prefix
// that no config of the program reads (usually a typo). It returns every
// problem found, not only the first.
func (p Program) Check(environ map[string]string) []error {
	var errs []error
	for _, c := range p.Configs {
		v := reflect.New(reflect.TypeOf(c))
		if err := Parse(v.Interface(), environ); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Unknown lists the BULWARK_ variables in environ that none of the programs
// reads.
func Unknown(environ map[string]string, programs []Program) []string {
	known := map[string]bool{}
	for _, p := range programs {
		for _, v := range p.Vars() {
			known[v.Name] = true
		}
	}
	var out []string
	for k := range environ {
		if strings.HasPrefix(k, Prefix) && !known[k] {
			out = append(out, k)
		}
	}
	return out
}

// MarkdownTable renders vars as the README's table of a program.
func MarkdownTable(vars []Var) string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range vars {
		def := ""
		switch {
		case v.Required:
			def = "required"
		case v.Default != "":
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Help, "|", `\|`))
	}
	return b.String()
}
