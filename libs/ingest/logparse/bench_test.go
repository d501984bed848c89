package logparse

import (
	"bytes"
	"testing"

	"github.com/bulwarkhq/bulwark/libs/platform/eventpb"
)

// The benchmarks parse real lines (the shared real logs; the JSON formats
// render the same requests as their formats would log them). One op is one
// line; lines/s is per core as benchmarks run on one goroutine.
// BenchmarkSplit* is the baseline the issue asks for: the raw cost of
// finding the same lines with bytes.IndexByte, nothing parsed.

func benchParse(b *testing.B, f Format) {
	lines := corpusFor(b, f)
	p := mustNew(b, f, Options{SessionCookie: sessionCookieFor(f)})
	var ev eventpb.RequestEvent
	total := 0
	for _, l := range lines {
		total += len(l) + 1
	}
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		_ = p.Parse(lines[i], &ev)
		if i++; i == len(lines) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func benchSplit(b *testing.B, f Format) {
	lines := corpusFor(b, f)
	data := append(bytes.Join(lines, []byte{'\n'}), '\n')
	b.SetBytes(int64(len(data) / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	rest := data
	n := 0
	for b.Loop() {
		if len(rest) == 0 {
			rest = data
		}
		i := bytes.IndexByte(rest, '\n')
		n += i
		rest = rest[i+1:]
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	if n < 0 {
		b.Fatal(n)
	}
}

func BenchmarkParseNginx(b *testing.B)      { benchParse(b, FormatNginx) }
func BenchmarkParseNginxJSON(b *testing.B)  { benchParse(b, FormatNginxJSON) }
func BenchmarkParseCloudflare(b *testing.B) { benchParse(b, FormatCloudflare) }
func BenchmarkSplitNginx(b *testing.B)      { benchSplit(b, FormatNginx) }
func BenchmarkSplitNginxJSON(b *testing.B)  { benchSplit(b, FormatNginxJSON) }
func BenchmarkSplitCloudflare(b *testing.B) { benchSplit(b, FormatCloudflare) }

// The custom formats compile the stock combined format from its format
// string and parse the same real lines as BenchmarkParseNginx, in the same
// run: the ratio between the two is the cost of the general matcher.
func benchCustom(b *testing.B, f Format, logFormat string) {
	lines := corpusFor(b, FormatNginx)
	p := mustNew(b, f, Options{LogFormat: logFormat})
	var ev eventpb.RequestEvent
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		_ = p.Parse(lines[i], &ev)
		if i++; i == len(lines) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParseCustomNginx(b *testing.B)  { benchCustom(b, FormatNginx, NginxCombined) }
func BenchmarkParseCustomApache(b *testing.B) { benchCustom(b, FormatApache, ApacheCombined) }

// BenchmarkParseSources parses each provider's documented fixture lines.
func BenchmarkParseSources(b *testing.B) {
	for _, f := range sourceFormats() {
		b.Run(string(f), func(b *testing.B) { benchParse(b, f) })
	}
}
