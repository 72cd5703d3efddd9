package e2e

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mosipcrvs/bridge/sandbox/mosip"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden with what the bridge sends now")

// A birth, the death of that person and a correction of the living
// person's name, sent through the gateway, reach MOSIP as exactly the
// createPacket and workflowinstance requests in testdata/golden, once
// the values that differ on every run (request times, RIDs, the UIN and
// VID MOSIP issued, audit uuids, the host name) are replaced by
// placeholders. Run with -update after an intended change and review the
// diff.
func TestGoldenMOSIPRequests(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)

	st, body := b.post(t, "/events/registration", b.record(t, "birth"), payload(map[string]any{
		"birthCertificateNumber": "EE008OLG4317", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01", "gender": "male"}))
	if st != http.StatusAccepted {
		t.Fatalf("birth = %d %s, want 202", st, body)
	}
	birth := b.waitProcessed(t, 1)[0]
	person, err := b.sb.Registry.Lookup(birth.UIN)
	if err != nil {
		t.Fatalf("the birth's identity %s: %v", birth.UIN, err)
	}

	st, body = b.post(t, "/events/update-biographics", b.record(t, "birth"), payload(map[string]any{
		"VID": person.VID, "fullName": "Infant Updated Doe"}))
	if st != http.StatusAccepted {
		t.Fatalf("update-biographics = %d %s, want 202", st, body)
	}
	b.waitProcessed(t, 2)

	st, body = b.post(t, "/events/registration", b.record(t, "death"), payload(map[string]any{
		"deathCertificateNumber": "DD0001", "fullName": "Infant Updated Doe", "dateOfBirth": "2025-09-01",
		"gender": "male", "nationalIdNumber": birth.UIN, "dateOfDeath": "2025-10-02"}))
	if st != http.StatusAccepted {
		t.Fatalf("death = %d %s, want 202", st, body)
	}
	b.waitProcessed(t, 3)

	var creates [][]byte
	for _, c := range b.sb.Packets.Calls() {
		if c.Result != mosip.PacketCreated {
			t.Fatalf("createPacket call %+v, want every call created", c)
		}
		creates = append(creates, c.Body)
	}
	instances := b.sb.RegProc.Instances()
	events := []string{"birth", "update-biographics", "death"}
	if len(creates) != len(events) || len(instances) != len(events) {
		t.Fatalf("MOSIP got %d createPacket and %d workflowinstance requests, want %d of each", len(creates), len(instances), len(events))
	}

	n := goldenNormalizer{values: map[string]string{birth.UIN: "<UIN>", person.VID: "<VID>"}}
	for i, ev := range events {
		n.values[instances[i].RegistrationID] = fmt.Sprintf("<RID of the %s>", ev)
	}
	for i, ev := range events {
		for _, req := range []struct {
			name string
			body []byte
		}{
			{"createPacket", creates[i]},
			{"workflowinstance", instances[i].Body},
		} {
			got, err := n.normalize(req.body)
			if err != nil {
				t.Fatalf("%s %s: %v", ev, req.name, err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", ev+"."+req.name+".json"), got)
		}
	}
}

// goldenNormalizer turns a MOSIP request body into stable, indented JSON.
type goldenNormalizer struct {
	// values are volatile values and their placeholders, replaced
	// wherever they occur, also inside strings that hold JSON.
	values map[string]string
}

var (
	goldenTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z?$`)
	goldenUUID      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// normalize decodes body and re-encodes it indented with sorted keys,
// volatile values replaced by placeholders.
func (n goldenNormalizer) normalize(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(n.value("", v)); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (n goldenNormalizer) value(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = n.value(k, e)
		}
	case []any:
		for i, e := range x {
			x[i] = n.value(key, e)
		}
	case string:
		return n.str(key, x)
	}
	return v
}

func (n goldenNormalizer) str(key, s string) string {
	switch {
	case key == "schemaJson":
		// The whole ID schema: its digest keeps the file readable and still
		// shows any change.
		sum := sha256.Sum256([]byte(s))
		return "<ID schema, sha256 " + hex.EncodeToString(sum[:8]) + ">"
	case key == "hostName":
		return "<host name>"
	case goldenTimestamp.MatchString(s):
		return "<timestamp>"
	case goldenUUID.MatchString(s):
		return "<uuid>"
	}
	// Longest first, so that a value inside another is not replaced first.
	vals := slices.SortedFunc(maps.Keys(n.values), func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, v := range vals {
		if v != "" {
			s = strings.ReplaceAll(s, v, n.values[v])
		}
	}
	return s
}

// checkGolden compares got with the golden file at path, or rewrites the
// file under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what MOSIP received (go test -run TestGolden -update rewrites it):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines that differ between want and got, each with
// its line number.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&out, "line %d:\n  - %s\n  + %s\n", i+1, wl, gl)
		}
	}
	return out.String()
}
