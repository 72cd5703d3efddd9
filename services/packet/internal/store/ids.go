package store

import (
	"fmt"
	"strconv"
	"strings"
)

// The shape of transaction ids, kept from mosip-api: 15 digits,
// TRANSACTION_ID_PREFIX first (MOSIP and support staff know them so).
const (
	idLength        = 15
	defaultIDPrefix = "10001"
	// maxPrefixLen leaves at least six digits (a million ids) to the
	// sequence.
	maxPrefixLen = 9
)

// idFormat turns sequence numbers into transaction ids. Because the sequence
// never repeats a number, ids are unique by construction; the primary key
// and a CHECK on the shape guard it in the database as well.
type idFormat struct {
	prefix string
	digits int    // idLength - len(prefix)
	max    uint64 // largest sequence number that fits
}

// newIDFormat validates TRANSACTION_ID_PREFIX.
func newIDFormat(prefix string) (idFormat, error) {
	if prefix == "" {
		prefix = defaultIDPrefix
	}
	if len(prefix) > maxPrefixLen || strings.Trim(prefix, "0123456789") != "" {
		return idFormat{}, fmt.Errorf("%w: TRANSACTION_ID_PREFIX must be 1 to %d digits, got %q", ErrInvalid, maxPrefixLen, prefix)
	}
	f := idFormat{prefix: prefix, digits: idLength - len(prefix), max: 1}
	for range f.digits {
		f.max *= 10
	}
	f.max--
	return f, nil
}

// format renders sequence number n.
func (f idFormat) format(n int64) (string, error) {
	if n < 1 || uint64(n) > f.max {
		return "", fmt.Errorf("transaction sequence %d does not fit the %d digits left by prefix %q", n, f.digits, f.prefix)
	}
	s := strconv.FormatInt(n, 10)
	return f.prefix + strings.Repeat("0", f.digits-len(s)) + s, nil
}

// validID reports whether id has the shape of a transaction id, so lookups
// of garbage are answered without a query.
func validID(id string) bool {
	return len(id) == idLength && strings.Trim(id, "0123456789") == ""
}
