package esignetverify

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what callers send. They are far above real values (MOSIP's ID
// schema caps names well below) and keep one request from carrying
// megabytes into IDA or the logs.
const (
	maxIDLen      = 64
	maxNameLen    = 200
	maxGenderLen  = 64
	maxCorrIDLen  = 200
	maxCodeLen    = 4096
	maxStateLen   = 4096
	maxClientID   = 256
	maxURLLen     = 4096
	minBirthYear  = 1850
	dateLayoutISO = "2006-01-02"
)

// textProblem describes what is wrong with a free-text value, or "":
// invalid UTF-8, the replacement character (what invalid UTF-8 becomes
// once decoded), control characters, or more than max characters.
// Descriptions never quote the value: it is personal data.
func textProblem(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.ContainsRune(s, utf8.RuneError):
		return "must be valid UTF-8 (it holds U+FFFD, the mark of invalid bytes)"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}

// idProblem checks a UIN or VID: non-empty, at most 64 characters of
// letters and digits (MOSIP's ids are digits; handles would need more).
func idProblem(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > maxIDLen {
		return fmt.Sprintf("must be at most %d characters", maxIDLen)
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return "must be letters and digits only"
		}
	}
	return ""
}

// parseBirthDate reads yyyy-MM-dd: a real calendar date, not in the
// future, not before 1850.
func parseBirthDate(s string, now time.Time) (time.Time, string) {
	if s == "" {
		return time.Time{}, "is required (YYYY-MM-DD)"
	}
	t, err := time.Parse(dateLayoutISO, s)
	if err != nil || len(s) != len(dateLayoutISO) {
		return time.Time{}, "must be a date YYYY-MM-DD"
	}
	if t.Year() < minBirthYear || t.After(now.Add(24*time.Hour)) {
		return time.Time{}, fmt.Sprintf("must be a date between %d-01-01 and today", minBirthYear)
	}
	return t, ""
}

// tokenProblem checks an opaque protocol value (code, client id):
// printable ASCII without spaces.
func tokenProblem(s string, max int) string {
	if s == "" {
		return "is required"
	}
	if len(s) > max {
		return fmt.Sprintf("must be at most %d characters", max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}
