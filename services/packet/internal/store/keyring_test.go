package store

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, keySize)
	std := base64.StdEncoding.EncodeToString(key)
	url := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, keySize)) // '-' and '_' in it
	short := base64.StdEncoding.EncodeToString(key[:16])
	tests := []struct {
		spec    string
		current string
		ids     string
		wantErr string // substring; empty for success
	}{
		{spec: "k1:" + std, current: "k1", ids: "k1"},
		{spec: " k2:" + url + " , k1:" + std + ",", current: "k2", ids: "k2,k1"},
		{spec: "2026-01.a_b:" + strings.TrimRight(std, "="), current: "2026-01.a_b", ids: "2026-01.a_b"},
		{spec: "", wantErr: "no keys"},
		{spec: " , ", wantErr: "no keys"},
		{spec: std, wantErr: "entry 1: want <key id>:<base64 key>"},
		{spec: "k1:" + short, wantErr: "16 bytes, want 32"},
		{spec: "k1:not base64!", wantErr: "not base64"},
		{spec: "k1:" + std + ",k1:" + std, wantErr: "appears twice"},
		{spec: "bad id:" + std, wantErr: "key id \"bad id\""},
		{spec: ":" + std, wantErr: "key id \"\""},
		{spec: strings.Repeat("k", 33) + ":" + std, wantErr: "key id"},
		{spec: "k1:" + short + ",k2:x", wantErr: "entry 2"}, // every problem is reported
	}
	for _, tt := range tests {
		k, err := ParseKeyring(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseKeyring(%q) = %v, want error containing %q", tt.spec, err, tt.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), std) || strings.Contains(err.Error(), short)) {
				t.Errorf("ParseKeyring(%q) error shows key material: %v", tt.spec, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseKeyring(%q) = %v", tt.spec, err)
			continue
		}
		if k.Current() != tt.current || strings.Join(k.IDs(), ",") != tt.ids {
			t.Errorf("ParseKeyring(%q) = current %s ids %v, want %s %s", tt.spec, k.Current(), k.IDs(), tt.current, tt.ids)
		}
		for _, shown := range []string{k.String(), fmt.Sprintf("%v %+v %#v", k, k, k)} {
			if strings.Contains(shown, std) || strings.Contains(shown, url) {
				t.Errorf("keyring prints its keys: %s", shown)
			}
		}
	}
}

func TestNewKeyring(t *testing.T) {
	t.Parallel()
	keys := map[string][]byte{"b": bytes.Repeat([]byte{1}, 32), "a": bytes.Repeat([]byte{2}, 32), "c": bytes.Repeat([]byte{3}, 32)}
	k, err := NewKeyring("b", keys)
	if err != nil || k.Current() != "b" || strings.Join(k.IDs(), ",") != "b,a,c" {
		t.Errorf("NewKeyring() = %v, %v; want current b, ids b,a,c", k, err)
	}
	if _, err := NewKeyring("z", keys); err == nil {
		t.Error("NewKeyring(current missing) succeeded")
	}
	if _, err := NewKeyring("a", map[string][]byte{"a": make([]byte, 16)}); err == nil {
		t.Error("NewKeyring(16-byte key) succeeded")
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	old := mustKeyring(t, testKey(t, "old"))
	ring := mustKeyring(t, testKey(t, "new")+","+testKey(t, "other")) // old is not in it
	plain := []byte("eyJhbGciOiJSUzI1NiJ9.token")

	sealed, err := ring.seal(plain, "token:1")
	if err != nil || !strings.HasPrefix(sealed, "new:") || strings.Contains(sealed, "token") {
		t.Fatalf("seal() = %q, %v", sealed, err)
	}
	again, _ := ring.seal(plain, "token:1")
	if again == sealed {
		t.Error("seal() is deterministic; nonces repeat")
	}
	if got, err := ring.open(sealed, "token:1"); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("open() = %q, %v", got, err)
	}
	if empty, err := ring.seal(nil, "x"); empty != "" || err != nil {
		t.Errorf("seal(empty) = %q, %v; want empty", empty, err)
	}
	if got, err := ring.open("", "x"); got != nil || err != nil {
		t.Errorf("open(empty) = %q, %v; want nothing", got, err)
	}

	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "new:"))
	raw[len(raw)-1] ^= 1
	tampered := "new:" + base64.StdEncoding.EncodeToString(raw)
	oldSealed, _ := old.seal(plain, "token:1")
	tests := []struct {
		name, sealed, aad string
		want              error
	}{
		{"other row", sealed, "token:2", nil},
		{"other column", sealed, "payload:1", nil},
		{"tampered", tampered, "token:1", nil},
		{"unknown key", oldSealed, "token:1", ErrUnknownKey},
		{"no key id", "abc", "token:1", nil},
		{"not base64", "new:!!!", "token:1", nil},
		{"too short", "new:AAAA", "token:1", nil},
	}
	for _, tt := range tests {
		_, err := ring.open(tt.sealed, tt.aad)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("open(%s) = %v, want an error (%v)", tt.name, err, tt.want)
		}
	}
}

func FuzzParseKeyring(f *testing.F) {
	f.Add("k1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	f.Add("k2:AAAA,k1:BBBB")
	f.Add(",,:")
	f.Fuzz(func(t *testing.T, spec string) {
		k, err := ParseKeyring(spec)
		if err == nil && (k.Current() == "" || len(k.IDs()) == 0) {
			t.Errorf("ParseKeyring(%q) gave an empty keyring without error", spec)
		}
	})
}

func FuzzOpen(f *testing.F) {
	ring := mustKeyring(f, "k1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	good, _ := ring.seal([]byte("x"), "a")
	f.Add(good, "a")
	f.Add("k1:", "a")
	f.Add("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")
	f.Fuzz(func(t *testing.T, sealed, aad string) {
		// Stored values are outside input: whatever they hold, open must
		// fail cleanly, and succeed only for what seal produced (the seed:
		// "x" sealed under "a" with this key, in whichever fuzz process).
		got, err := ring.open(sealed, aad)
		if err == nil && sealed != "" && (aad != "a" || string(got) != "x") {
			t.Errorf("open(%q, %q) = %q, want an error", sealed, aad, got)
		}
	})
}
