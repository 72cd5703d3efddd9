package mosipclient

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var fixedNow = time.Date(2025, 1, 10, 6, 11, 44, 123e6, time.UTC)

func TestNewRIDGeneratorValidation(t *testing.T) {
	t.Parallel()
	_, err := NewRIDGenerator(RIDConfig{Form: "long", CenterID: "1000", MachineID: "1000A"})
	if err == nil {
		t.Fatal("NewRIDGenerator(bad) = nil error")
	}
	for _, want := range []string{`RID form "long"`, `centre id "1000" must be 5 digits`, `machine id "1000A" must be 5 digits`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewRIDGenerator(bad) error %q is missing %q", err, want)
		}
	}
	for _, form := range []RIDForm{RIDShort, RIDMOSIP29} {
		g, err := NewRIDGenerator(RIDConfig{Form: form, CenterID: "10001", MachineID: "10004"})
		if err != nil {
			t.Fatalf("NewRIDGenerator(%s) = %v", form, err)
		}
		if g.RefID() != "10001_10004" || g.Form() != form {
			t.Errorf("RefID() = %q, Form() = %q", g.RefID(), g.Form())
		}
	}
}

func TestRIDShort(t *testing.T) {
	t.Parallel()
	g, err := NewRIDGenerator(RIDConfig{Form: RIDShort, CenterID: "10001", MachineID: "10004"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tx   string
		want string
		ok   bool
	}{
		{"100011234567890", "100011234567890", true},
		{"10001ABCDEFGHIJ", "10001ABCDEFGHIJ", true},
		{"10001123456789", "", false},
		{"1000112345678901", "", false},
		{"10001-234567890", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := g.Next(context.Background(), tt.tx)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Next(%q) = %q, %v; want %q, ok=%v", tt.tx, got, err, tt.want, tt.ok)
		}
		if got, err := g.Make(tt.tx, 7); (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Make(%q, 7) = %q, %v; want %q, ok=%v", tt.tx, got, err, tt.want, tt.ok)
		}
	}
}

func TestRIDMOSIP29(t *testing.T) {
	t.Parallel()
	tests := []struct {
		seq  int64
		want string
	}{
		{42, "10001100040004220250110061144"},
		{0, "10001100040000020250110061144"},
		{99999, "10001100049999920250110061144"},
		{123456, "10001100042345620250110061144"},
		{-1, "10001100049999920250110061144"},
	}
	for _, tt := range tests {
		g, err := NewRIDGenerator(RIDConfig{
			Form: RIDMOSIP29, CenterID: "10001", MachineID: "10004",
			Sequence: func(context.Context) (int64, error) { return tt.seq, nil },
			Now:      func() time.Time { return fixedNow.In(time.FixedZone("EAT", 3*3600)) },
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.Next(context.Background(), "ignored")
		if err != nil || got != tt.want {
			t.Errorf("Next() with sequence %d = %q, %v; want %q", tt.seq, got, err, tt.want)
		}
		// Make takes the number already drawn (the store draws it).
		if made, err := g.Make("ignored", tt.seq); err != nil || made != tt.want {
			t.Errorf("Make(%d) = %q, %v; want %q", tt.seq, made, err, tt.want)
		}
		if at, ok := RIDTime(got); !ok || !at.Equal(fixedNow.Truncate(time.Second)) {
			t.Errorf("RIDTime(%q) = %v, %v; want %v (UTC)", got, at, ok, fixedNow.Truncate(time.Second))
		}
		if got[:10] != "10001"+"10004" {
			t.Errorf("RID %q does not start with centre and machine", got)
		}
	}
}

func TestRIDMOSIP29SequenceError(t *testing.T) {
	t.Parallel()
	boom := errors.New("database down")
	g, err := NewRIDGenerator(RIDConfig{Form: RIDMOSIP29, CenterID: "10001", MachineID: "10004",
		Sequence: func(context.Context) (int64, error) { return 0, boom }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Next(context.Background(), ""); !errors.Is(err, boom) {
		t.Errorf("Next() = %v, want the sequence error", err)
	}
}

func TestRIDMOSIP29DefaultSequenceIsUnique(t *testing.T) {
	t.Parallel()
	g, err := NewRIDGenerator(RIDConfig{Form: RIDMOSIP29, CenterID: "10001", MachineID: "10004", Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^1000110004[0-9]{5}20250110061144$`)
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for range 500 {
				rid, err := g.Next(context.Background(), "")
				if err != nil || !re.MatchString(rid) {
					t.Errorf("Next() = %q, %v", rid, err)
					return
				}
				mu.Lock()
				if seen[rid] {
					t.Errorf("Next() repeated %q within one second", rid)
				}
				seen[rid] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestRIDTime(t *testing.T) {
	t.Parallel()
	for _, rid := range []string{"100011234567890", "1000110004000422025011006114", "1000110004000422025133106114A", "10001100040004220251331061144"} {
		if _, ok := RIDTime(rid); ok {
			t.Errorf("RIDTime(%q) ok, want not a 29-digit RID with a valid time", rid)
		}
	}
}
