package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/bulwarkhq/bulwark/libs/ingest/clientip"
	"github.com/bulwarkhq/bulwark/libs/ingest/logfile"
	"github.com/bulwarkhq/bulwark/libs/ingest/logparse"
)

// parseFlags are the flags of every command that parses log lines: which
// format, and where the session id and the client are.
type parseFlags struct {
	format, logFormat, jsonFields string
	sessionField, sessionCookie   string
	trustedProxies                string
}

func formatNames() string {
	var names []string
	for _, f := range logparse.Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

func (p *parseFlags) register(f *pflag.FlagSet) {
	f.StringVar(&p.format, "format", "nginx", "log format: "+formatNames())
	f.StringVar(&p.logFormat, "log-format", "", "the nginx log_format (--format nginx) or Apache LogFormat (--format apache) string the files are written in; default: the combined format")
	f.StringVar(&p.jsonFields, "json-fields", "", "JSON keys of a JSON log, as field=key pairs: remote_addr=client,time_iso8601=ts (--format nginx-json)")
	f.StringVar(&p.sessionField, "session-field", "", "the field or format variable holding the session id (nginx: sid for $sid; Apache: SESSION_ID for %{SESSION_ID}e or %{SESSION_ID}n, or the directive itself, e.g. %{X-Session}i)")
	f.StringVar(&p.sessionCookie, "session-cookie", "", "the cookie holding the session id")
	f.StringVar(&p.trustedProxies, "trusted-proxies", "", "CIDRs of your proxies, comma-separated: the client is the first untrusted X-Forwarded-For hop")
}

// options builds the parser options; errors name the flag at fault.
func (p *parseFlags) options(maxLineBytes int) (logparse.Format, logparse.Options, error) {
	format, err := logparse.ParseFormat(p.format)
	if err != nil {
		return "", logparse.Options{}, fmt.Errorf("--format: %w", err)
	}
	fields, err := logparse.ParseJSONFields(p.jsonFields)
	if err != nil {
		return "", logparse.Options{}, fmt.Errorf("--json-fields: %w", err)
	}
	trusted, err := clientip.ParseCIDRs(p.trustedProxies)
	if err != nil {
		return "", logparse.Options{}, fmt.Errorf("--trusted-proxies: %w", err)
	}
	opts := logparse.Options{
		LogFormat: p.logFormat, JSONFields: fields, SessionField: p.sessionField, SessionCookie: p.sessionCookie,
		MaxLineBytes: maxLineBytes, ClientIP: clientip.New(trusted),
	}
	if _, err := logparse.New(format, opts); err != nil {
		flag := "--format"
		switch {
		case p.logFormat != "":
			flag = "--log-format"
		case p.jsonFields != "":
			flag = "--json-fields"
		case p.sessionCookie != "" || p.sessionField != "":
			flag = "--session-cookie/--session-field"
		}
		return "", logparse.Options{}, fmt.Errorf("%s: %w", flag, err)
	}
	return format, opts, nil
}

// expandFiles resolves globs the way the shipper does; a pattern that
// matches nothing is kept, so that opening it names the missing file.
func expandFiles(args []string) []string {
	var out []string
	for _, a := range args {
		m, err := filepath.Glob(a)
		if err != nil || len(m) == 0 {
			out = append(out, a)
			continue
		}
		out = append(out, m...)
	}
	return out
}

// checkFile parses up to maxLines lines of path (plain, .gz or .zst).
func checkFile(path string, format logparse.Format, opts logparse.Options, maxLines, maxErrors int) (logparse.CheckResult, error) {
	p, err := logparse.New(format, opts)
	if err != nil {
		return logparse.CheckResult{}, err
	}
	r, err := logfile.Open(path)
	if err != nil {
		return logparse.CheckResult{}, err
	}
	defer r.Close()
	res, err := logparse.Check(r, p, maxLines, maxErrors)
	if err != nil {
		return res, fmt.Errorf("read %s: %w", path, err)
	}
	return res, nil
}

// writeCheck prints a check's result for one file.
func writeCheck(w io.Writer, path string, format logparse.Format, res logparse.CheckResult) {
	fmt.Fprintf(w, "%s: %d lines checked as %s: %d parsed, %d rejected\n", path, res.Lines, format, res.Parsed, res.Rejected)
	for _, e := range res.Errors {
		fmt.Fprintf(w, "  %s\n    %s\n", e, e.Text)
	}
	if res.Rejected > len(res.Errors) {
		fmt.Fprintf(w, "  ... and %d more rejected lines\n", res.Rejected-len(res.Errors))
	}
	if res.NoClient > 0 {
		fmt.Fprintf(w, "  %d lines match the format but name no client (no address and no session id): shipped as dead letters, reason no_client\n", res.NoClient)
	}
	if res.First != nil {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(res.First)
		if err == nil {
			fmt.Fprintf(w, "  first event: %s\n", b)
		}
	}
}
