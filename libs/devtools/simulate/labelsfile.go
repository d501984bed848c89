package simulate

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/bulwarkhq/bulwark/libs/platform/subject"
)

// ParseLabels reads a labels file in either form `--labels` accepts: the
// JSON object of WriteLabels (`bulwark simulate --labels`), or plain text as
// labelled datasets publish it, one `SUBJECT LABEL` a line. In the text
// form SUBJECT is an IP address, a subject (`ip:...`, `session:...`), or a
// bare id, which is a session id; LABEL is human, bot, verified_crawler, or
// any NAME_bot (a bot of kind NAME_bot: advanced_bot, moderate_bot). Blank
// lines and lines starting with # are skipped; anything else is an error
// naming the line.
func ParseLabels(r io.Reader) (map[string]Label, error) {
	br := bufio.NewReader(r)
	first, err := firstByte(br)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	if first == '{' {
		return ReadLabels(br)
	}
	return readTextLabels(br)
}

// firstByte peeks at the first byte that is not white space (0 at the end).
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if b[0] != ' ' && b[0] != '\t' && b[0] != '\r' && b[0] != '\n' {
			return b[0], nil
		}
		if _, err := br.ReadByte(); err != nil {
			return 0, err
		}
	}
}

func readTextLabels(r io.Reader) (map[string]Label, error) {
	out := map[string]Label{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := strings.Fields(string(line))
		if len(f) != 2 {
			hint := ""
			if len(f) > 2 {
				hint = " (two records glued together without a newline?)"
			}
			return nil, fmt.Errorf("labels line %d: want SUBJECT LABEL, got %d fields%s: %.80q", n, len(f), hint, line)
		}
		key, err := labelSubject(f[0])
		if err != nil {
			return nil, fmt.Errorf("labels line %d: %w", n, err)
		}
		l, err := textLabel(f[1])
		if err != nil {
			return nil, fmt.Errorf("labels line %d: %w", n, err)
		}
		if old, ok := out[key]; ok && old != l {
			return nil, fmt.Errorf("labels line %d: %s is labelled again, %s after %s", n, f[0], f[1], old.Kind)
		}
		out[key] = l
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	return out, nil
}

// labelSubject turns a text file's SUBJECT into a JSON labels key: an
// address as is, a session as "session:ID".
func labelSubject(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String(), nil
	}
	if strings.Contains(s, ":") {
		sub, err := subject.Parse(s)
		if err != nil {
			return "", fmt.Errorf("subject %q: %w", s, err)
		}
		switch sub.Kind {
		case subject.KindIP:
			return sub.Addr.String(), nil
		case subject.KindSession:
			return subject.Session(sub.Session), nil
		}
		return "", fmt.Errorf("subject %q: only addresses and sessions are labelled", s)
	}
	if err := subject.ValidateSession(s); err != nil {
		return "", fmt.Errorf("session id %q: %w", s, err)
	}
	return subject.Session(s), nil
}

// textLabel reads a text file's LABEL.
func textLabel(s string) (Label, error) {
	switch {
	case s == LabelHuman:
		return Label{Label: LabelHuman, Kind: Human}, nil
	case s == LabelBot:
		return Label{Label: LabelBot, Kind: "bot"}, nil
	case s == LabelVerifiedCrawler:
		return Label{Label: LabelVerifiedCrawler, Kind: "verified_crawler"}, nil
	case strings.HasSuffix(s, "_bot") && len(s) > len("_bot"):
		return Label{Label: LabelBot, Kind: Kind(s)}, nil
	}
	return Label{}, fmt.Errorf("label %q: want human, bot, verified_crawler or NAME_bot", s)
}
