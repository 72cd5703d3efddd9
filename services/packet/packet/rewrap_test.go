package packet

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"path/filepath"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mosipcrvs/bridge/services/packet/internal/store"
)

// After a rotation (a new key put first in PACKET_TOKEN_KEYS, the old one
// kept), the service re-seals what the old key sealed, so that the old key
// can go: a store with only the new key then reads every transaction.
func TestKeyRotationRewrapsOldRows(t *testing.T) {
	t.Parallel()
	f := newFakeMOSIP(t)
	dbPath, oldKey := filepath.Join(t.TempDir(), "p.db"), testKeys(t)
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, dbPath, store.Options{Keyring: mustKeyring(t, oldKey)})
	if err != nil {
		t.Fatal(err)
	}
	seeded := seed(t, st, map[string]store.Status{
		"received": store.StatusReceived, "processing": store.StatusProcessingStarted, "confirmed": store.StatusConfirmed,
	})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	k := make([]byte, 32)
	_, _ = rand.Read(k)
	newKey := "k2:" + base64.StdEncoding.EncodeToString(k)
	onlyNew, err := store.OpenSQLite(ctx, dbPath, store.Options{Keyring: mustKeyring(t, newKey)})
	if err != nil {
		t.Fatal(err)
	}
	defer onlyNew.Close()
	if _, err := onlyNew.Get(ctx, seeded["received"].ID); !errors.Is(err, store.ErrUnknownKey) {
		t.Fatalf("Get() with the new key alone before the rotation = %v, want ErrUnknownKey", err)
	}

	reader := sdkmetric.NewManualReader()
	cfg := testConfig(t, f, dbPath, newKey+","+oldKey, nil)
	startWith(t, cfg, options{purgeInterval: 300 * time.Millisecond,
		meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	deadline := time.Now().Add(15 * time.Second)
	for name, tx := range seeded {
		for {
			got, err := onlyNew.Get(ctx, tx.ID)
			if err == nil {
				if got.Token != tx.Token || string(got.Payload) != string(tx.Payload) {
					t.Errorf("%s: re-sealed token or payload differs", name)
				}
				break
			}
			if !errors.Is(err, store.ErrUnknownKey) || time.Now().After(deadline) {
				t.Fatalf("%s: Get() with the new key alone = %v", name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The run counts what it re-sealed once it found nothing more to do.
	for {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		n := collected(rm)["packet.keys.rewrapped"]
		if n == int64(len(seeded)) {
			break
		}
		if n > int64(len(seeded)) || time.Now().After(deadline) {
			t.Fatalf("packet.keys.rewrapped = %d, want %d", n, len(seeded))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Without a rotation under way there is nothing to schedule.
func TestRewrapScheduledOnlyDuringRotation(t *testing.T) {
	t.Parallel()
	if got := rewrapSchedule(1, time.Hour); len(got) != 0 {
		t.Errorf("rewrapSchedule(one key) = %d jobs, want none", len(got))
	}
	if got := rewrapSchedule(2, time.Hour); len(got) != 1 {
		t.Errorf("rewrapSchedule(two keys) = %d jobs, want 1", len(got))
	}
}
