package mapping

import (
	"fmt"
	"strings"
	"time"
)

// formatRFC3339 names RFC 3339 timestamps as an input format; the date is
// taken in the timestamp's own offset.
const formatRFC3339 = "RFC3339"

// javaTokens are the date pattern letters a format may use, longest first
// so that "yyyy" wins over "y" and "MM" over "M".
var javaTokens = []struct{ java, goLayout string }{
	{"yyyy", "2006"},
	{"MM", "01"}, {"M", "1"},
	{"dd", "02"}, {"d", "2"},
	{"HH", "15"},
	{"mm", "04"},
	{"ss", "05"},
	{"SSS", "000"},
	{"XXX", "Z07:00"},
}

// unquotedLiterals are the separators a pattern may use without quotes.
// Digits and letters are excluded because Go layouts give them meaning.
const unquotedLiterals = "-/.:, "

// quotedLiterals are the letters a pattern may quote ('T', 'Z'); none of
// them starts a Go layout element.
const quotedLiterals = "TZ"

// javaLayout translates a date pattern in MOSIP's notation (Java's
// DateTimeFormatter letters, the ones operators see in MOSIP config and
// schemas) to a Go layout. Only unambiguous elements are supported; a
// two-digit year, for instance, is refused rather than guessed.
func javaLayout(pattern string) (string, error) {
	if pattern == "" {
		return "", fmt.Errorf("empty date format")
	}
	var b strings.Builder
	seen := map[byte]bool{} // pattern letters used, each allowed once
	for i := 0; i < len(pattern); {
		c := pattern[i]
		if c == '\'' {
			end := strings.IndexByte(pattern[i+1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("date format %q: unterminated quote", pattern)
			}
			lit := pattern[i+1 : i+1+end]
			for _, r := range lit {
				if !strings.ContainsRune(quotedLiterals, r) && !strings.ContainsRune(unquotedLiterals, r) {
					return "", fmt.Errorf("date format %q: quoted %q is not supported (only T, Z and separators)", pattern, r)
				}
			}
			b.WriteString(lit)
			i += end + 2
			continue
		}
		matched := false
		for _, t := range javaTokens {
			if strings.HasPrefix(pattern[i:], t.java) {
				if t.java == "SSS" && (b.Len() == 0 || !strings.ContainsRune(".,", rune(b.String()[b.Len()-1]))) {
					return "", fmt.Errorf("date format %q: SSS must follow '.' or ','", pattern)
				}
				if seen[t.java[0]] {
					return "", fmt.Errorf("date format %q: %q appears more than once", pattern, t.java[0])
				}
				seen[t.java[0]] = true
				b.WriteString(t.goLayout)
				i += len(t.java)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		if strings.IndexByte(unquotedLiterals, c) >= 0 {
			b.WriteByte(c)
			i++
			continue
		}
		return "", fmt.Errorf("date format %q: %q is not supported (use yyyy, MM, M, dd, d, HH, mm, ss, SSS, XXX, separators and quoted 'T')", pattern, c)
	}
	if !seen['y'] || !seen['M'] || !seen['d'] {
		return "", fmt.Errorf("date format %q: needs yyyy, a month and a day", pattern)
	}
	return b.String(), nil
}

// inputLayout translates an input format, which may also be RFC3339.
func inputLayout(pattern string) (string, error) {
	if pattern == formatRFC3339 {
		return time.RFC3339Nano, nil
	}
	return javaLayout(pattern)
}

// outputLayout translates an output format.
func outputLayout(pattern string) (string, error) { return javaLayout(pattern) }

// convertDate parses s with the first input format that accepts it and
// writes it in the output format. Go's parser rejects impossible dates
// (2025-02-30) as MOSIP would.
func convertDate(s string, inputs []string, output string) (string, bool, error) {
	out, err := outputLayout(output)
	if err != nil {
		return "", false, err
	}
	for _, in := range inputs {
		layout, err := inputLayout(in)
		if err != nil {
			return "", false, err
		}
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(out), true, nil
		}
	}
	return "", false, nil
}
