package mosipclient

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"
)

// RIDForm selects how registration ids (the packet id MOSIP files
// everything under) are made.
type RIDForm string

const (
	// RIDShort uses the 15-character transaction id as the RID, as the
	// TypeScript mosip-api does (TRANSACTION_ID_PREFIX + 10 digits). It
	// works with the OpenCRVS mocks; real MOSIP derives the packet's
	// encryption reference from the RID's first ten characters, so it only
	// fits when those are the centre and machine ids.
	RIDShort RIDForm = "short"
	// RIDMOSIP29 is MOSIP's own 29-digit form: centre (5) + machine (5) +
	// sequence (5) + yyyyMMddHHmmss (14, UTC). Its first ten digits are the
	// refId's centre and machine, which is what the registration processor
	// assumes.
	RIDMOSIP29 RIDForm = "mosip29"
)

// Lengths of MOSIP's id parts (mosip.kernel.rid.length=29,
// registrationcenterid.length=5, machineid.length=5).
const (
	ridLength29      = 29
	ridShortLength   = 15
	idPartLength     = 5
	ridSequenceRange = 100000
	ridTimeLayout    = "20060102150405"
)

// RIDConfig configures NewRIDGenerator.
type RIDConfig struct {
	// Form is RIDShort or RIDMOSIP29.
	Form RIDForm
	// CenterID and MachineID are MOSIP_CENTER_ID and MOSIP_MACHINE_ID:
	// five digits each, registered in MOSIP's master data.
	CenterID, MachineID string
	// Sequence returns the next sequence number for RIDMOSIP29 (used modulo
	// 100000). Replicas sharing a centre and machine should share a
	// sequence (the packet service uses its database's) so that RIDs issued
	// in the same second differ: two then collide only when 100,000 of them
	// are issued within one second (plus the replicas' clock skew). nil
	// means an in-process counter starting at a random value.
	Sequence func(ctx context.Context) (int64, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RIDGenerator makes registration ids and the matching refId. It is safe
// for concurrent use.
type RIDGenerator struct {
	form            RIDForm
	center, machine string
	sequence        func(ctx context.Context) (int64, error)
	now             func() time.Time
}

// NewRIDGenerator validates cfg (form known, centre and machine ids of five
// digits, whatever the form, since refId always uses them) and returns a
// generator.
func NewRIDGenerator(cfg RIDConfig) (*RIDGenerator, error) {
	var errs []error
	if cfg.Form != RIDShort && cfg.Form != RIDMOSIP29 {
		errs = append(errs, fmt.Errorf("RID form %q is not %q or %q", cfg.Form, RIDShort, RIDMOSIP29))
	}
	if !digits(cfg.CenterID, idPartLength) {
		errs = append(errs, fmt.Errorf("centre id %q must be %d digits", cfg.CenterID, idPartLength))
	}
	if !digits(cfg.MachineID, idPartLength) {
		errs = append(errs, fmt.Errorf("machine id %q must be %d digits", cfg.MachineID, idPartLength))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("mosipclient: %w", errors.Join(errs...))
	}
	g := &RIDGenerator{form: cfg.Form, center: cfg.CenterID, machine: cfg.MachineID, sequence: cfg.Sequence, now: cfg.Now}
	if g.now == nil {
		g.now = time.Now
	}
	if g.sequence == nil {
		start, err := rand.Int(rand.Reader, big.NewInt(ridSequenceRange))
		if err != nil {
			return nil, fmt.Errorf("mosipclient: seed RID sequence: %w", err)
		}
		var counter atomic.Int64
		counter.Store(start.Int64())
		g.sequence = func(context.Context) (int64, error) { return counter.Add(1), nil }
	}
	return g, nil
}

// Form reports the configured form.
func (g *RIDGenerator) Form() RIDForm { return g.form }

// RefID is the createPacket refId, "<centre>_<machine>": the keymanager
// reference the packet is encrypted with.
func (g *RIDGenerator) RefID() string { return g.center + "_" + g.machine }

// Next returns a new RID. For RIDShort it is transactionID itself, which
// must be 15 letters or digits; RIDMOSIP29 ignores transactionID and draws
// the next number of the sequence.
func (g *RIDGenerator) Next(ctx context.Context, transactionID string) (string, error) {
	if g.form == RIDShort {
		return g.Make(transactionID, 0)
	}
	seq, err := g.sequence(ctx)
	if err != nil {
		return "", fmt.Errorf("mosipclient: RID sequence: %w", err)
	}
	return g.Make(transactionID, seq)
}

// Make returns the RID of a transaction from a number of the sequence
// already drawn (as the packet store does when it records the RID with the
// transaction). For RIDShort it is transactionID itself, which must be 15
// letters or digits, and seq is unused; RIDMOSIP29 ignores transactionID
// and uses seq modulo 100000 with the current time.
func (g *RIDGenerator) Make(transactionID string, seq int64) (string, error) {
	if g.form == RIDShort {
		if len(transactionID) != ridShortLength || !alnum(transactionID) {
			return "", fmt.Errorf("mosipclient: short RID needs a %d-character alphanumeric transaction id", ridShortLength)
		}
		return transactionID, nil
	}
	seq %= ridSequenceRange
	if seq < 0 {
		seq += ridSequenceRange
	}
	return fmt.Sprintf("%s%s%05d%s", g.center, g.machine, seq, g.now().UTC().Format(ridTimeLayout)), nil
}

// RIDTime returns the creation time a 29-digit RID carries (UTC), the way
// MOSIP derives a packet's creation date from it; ok is false for other
// forms.
func RIDTime(rid string) (t time.Time, ok bool) {
	if !digits(rid, ridLength29) {
		return time.Time{}, false
	}
	t, err := time.Parse(ridTimeLayout, rid[ridLength29-len(ridTimeLayout):])
	return t, err == nil
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
