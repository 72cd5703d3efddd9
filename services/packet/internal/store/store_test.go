package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/sqlstore"
)

func TestIDFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		n      int64
		want   string
	}{
		{"", 1, "100010000000001"},
		{"10001", 9999999999, "100019999999999"},
		{"7", 42, "700000000000042"},
		{"123456789", 999999, "123456789999999"},
	}
	for _, tt := range tests {
		f, err := newIDFormat(tt.prefix)
		if err != nil {
			t.Fatalf("newIDFormat(%q): %v", tt.prefix, err)
		}
		if got, err := f.format(tt.n); got != tt.want || err != nil {
			t.Errorf("format(%q, %d) = %q, %v; want %q", tt.prefix, tt.n, got, err, tt.want)
		}
		if !validID(tt.want) {
			t.Errorf("validID(%q) = false", tt.want)
		}
	}
	f, _ := newIDFormat("10001")
	for _, n := range []int64{0, -1, 10000000000} {
		if got, err := f.format(n); err == nil {
			t.Errorf("format(%d) = %q, want an error (sequence outside 10 digits)", n, got)
		}
	}
	for _, bad := range []string{"abc", "1234567890", "1 2", "１"} {
		if _, err := newIDFormat(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("newIDFormat(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	for _, bad := range []string{"", "10001", "1000100000000012", "10001000000000a"} {
		if validID(bad) {
			t.Errorf("validID(%q) = true", bad)
		}
	}
}

func TestCanAdvance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from, to Status
		want     bool
	}{
		{StatusReceived, StatusPacketCreated, true},
		{StatusReceived, StatusReceived, true},
		{StatusPacketCreated, StatusProcessingStarted, true},
		{StatusProcessingStarted, StatusCredentialReceived, true},
		{StatusCredentialReceived, StatusConfirmed, true},
		{StatusProcessingStarted, StatusConfirmed, true}, // death: no credential
		{StatusProcessingStarted, StatusFlaggedForRejection, true},
		{StatusFlaggedForRejection, StatusRejected, true},
		{StatusFlaggedForRejection, StatusFlaggedForRejection, true},
		{StatusReceived, StatusFailed, true},
		{StatusCredentialReceived, StatusCancelled, true},
		{StatusPacketCreated, StatusReceived, false},
		{StatusFlaggedForRejection, StatusConfirmed, false},
		{StatusFlaggedForRejection, StatusCredentialReceived, false},
		{StatusConfirmed, StatusRejected, false},
		{StatusConfirmed, StatusConfirmed, false},
		{StatusFailed, StatusReceived, false},
		{StatusCancelled, StatusCancelled, false},
		{"", StatusReceived, false},
		{StatusReceived, "done", false},
	}
	for _, tt := range tests {
		if got := CanAdvance(tt.from, tt.to); got != tt.want {
			t.Errorf("CanAdvance(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
	for _, s := range statuses {
		if !s.Valid() {
			t.Errorf("%q.Valid() = false", s)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"ééé", 3, "é"}, // never half a rune
		{"ééé", 4, "éé"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456000, time.UTC)
	gotAt, gotID, err := decodeCursor(encodeCursor(at, "100010000000001"))
	if err != nil || !gotAt.Equal(at) || gotID != "100010000000001" {
		t.Errorf("decodeCursor(encodeCursor()) = %v %q %v", gotAt, gotID, err)
	}
	for _, bad := range []string{"", "!!", "YWJj", encodeCursor(at, "x")} {
		if _, _, err := decodeCursor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("decodeCursor(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(time.Unix(0, 0), "100010000000001"))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, c string) {
		// Cursors come back from clients: refuse or accept, never panic,
		// and only ever yield a well-formed id.
		if _, id, err := decodeCursor(c); err == nil && !validID(id) {
			t.Errorf("decodeCursor(%q) accepted id %q", c, id)
		}
	})
}

func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	tx := Transaction{
		ID: "100010000000001", Process: ProcessNew, Status: StatusReceived,
		Token: config.Secret("eyJtoken.secret"), Payload: PersonalData(`{"fullName":"Jane Doe"}`),
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("tx", "tx", tx, "payload", tx.Payload, "token", tx.Token)
	js, _ := json.Marshal(tx)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", tx, tx, tx, tx.Payload), logged.String(), string(js)} {
		if strings.Contains(out, "eyJtoken") || strings.Contains(out, "Jane Doe") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if !strings.Contains(logged.String(), `"id":"100010000000001"`) {
		t.Errorf("log lost the transaction id: %s", logged.String())
	}
	if PersonalData(nil).String() != "" {
		t.Error("empty PersonalData prints something")
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	ring := mustKeyring(t, testKey(t, "k1"))
	tests := []struct {
		name string
		opts Options
	}{
		{"no keyring", Options{}},
		{"bad prefix", Options{Keyring: ring, IDPrefix: "ABC"}},
		{"negative attempts", Options{Keyring: ring, JobMaxAttempts: -1}},
	}
	for _, tt := range tests {
		if _, err := checkOptions(tt.opts); !errors.Is(err, ErrInvalid) {
			t.Errorf("checkOptions(%s) = %v, want ErrInvalid", tt.name, err)
		}
	}
	for _, path := range []string{"", "file:x.db", ":memory:", "x.db?mode=ro"} {
		if _, err := OpenSQLite(t.Context(), path, Options{Keyring: ring}); !errors.Is(err, ErrInvalid) {
			t.Errorf("OpenSQLite(%q) = %v, want ErrInvalid", path, err)
		}
	}
	if _, err := OpenPostgres(t.Context(), "postgres://user:hunter2@host:notaport/db", Options{Keyring: ring}); err == nil ||
		strings.Contains(err.Error(), "hunter2") {
		t.Errorf("OpenPostgres(bad URL) = %v, want an error without the password", err)
	}
	if msg := (&ConflictError{ID: "1", Expected: StatusReceived, Actual: StatusConfirmed}).Error(); !strings.Contains(msg, "confirmed, not received") {
		t.Errorf("ConflictError = %q", msg)
	}
}

func TestMigrationsLoad(t *testing.T) {
	t.Parallel()
	// Both dialects load and have the same history: a migration added to
	// one and forgotten in the other shows here.
	if err := sqlstore.CheckMigrations(migrations()); err != nil {
		t.Error(err)
	}
}
