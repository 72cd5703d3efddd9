package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/demo"
	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
)

// What `make run` tells a newcomer to try works against the assembled
// system: bridgectl's demos register a birth and a death and see them
// confirmed in OpenCRVS (the birth with its national ID), verify a parent
// through /verify, and sign in with eSignet through the gateway.
func TestDemos(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)
	b.waitSubscribed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var out bytes.Buffer

	birth, err := demo.Run(ctx, &out, b.sys.GatewayURL, b.sb.URL, "birth")
	if err != nil {
		t.Fatalf("demo birth: %v\n%s", err, &out)
	}
	nid, _ := birth.Confirmation.Declaration["child.nid"].(string)
	if birth.Confirmation.Status != opencrvs.StatusAccepted || nid == "" || birth.Packet.Status != "PROCESSED" {
		t.Fatalf("demo birth = %+v", birth)
	}
	if !strings.Contains(out.String(), "national ID child.nid = "+nid) {
		t.Errorf("the birth demo does not show the national ID:\n%s", &out)
	}

	death, err := demo.Run(ctx, &out, b.sys.GatewayURL, b.sb.URL, "death")
	if err != nil {
		t.Fatalf("demo death: %v\n%s", err, &out)
	}
	if death.Confirmation.Status != opencrvs.StatusAccepted || death.Confirmation.Declaration["child.nid"] != nil || death.Packet.Process != "CRVS_DEATH" {
		t.Fatalf("demo death = %+v", death)
	}
	if _, err := demo.Run(ctx, &out, b.sys.GatewayURL, b.sb.URL, "marriage"); err == nil {
		t.Error("demo marriage: want an error")
	}

	token, err := b.sb.CRVS.Auth().UserToken(opencrvs.UserTokenOptions{Subject: "demo-user", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	right, wrong, err := demo.Verify(ctx, &out, b.sys.GatewayURL, token)
	if err != nil || right != "verified" || wrong != "failed" {
		t.Fatalf("demo verify = %q, %q, %v", right, wrong, err)
	}
	person, err := demo.ESignet(ctx, &out, b.sys.GatewayURL, b.sb.URL, b.sb.Config.ESignetClientID, token)
	if err != nil {
		t.Fatalf("demo esignet: %v\n%s", err, &out)
	}
	if person["verificationStatus"] != "authenticated" || person["sub"] == "" || person["birthDate"] == nil {
		t.Errorf("demo esignet person = %v", person)
	}
	t.Logf("demo output:\n%s", &out)
}
