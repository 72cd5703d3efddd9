package e2e

// Faults on the way back from MOSIP to OpenCRVS, each proved on what the
// sandbox OpenCRVS received: exactly one successful confirmation per
// record, with the right child.nid.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	"github.com/mosipcrvs/bridge/pkg/sqlstore"
	"github.com/mosipcrvs/bridge/pkg/sqlstore/sqlstoretest"
	notificationv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/notification/v1"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
	"github.com/mosipcrvs/bridge/sandbox/allinone"
	"github.com/mosipcrvs/bridge/sandbox/mosip"
	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
	"github.com/mosipcrvs/bridge/sandbox/server"
	"github.com/mosipcrvs/bridge/services/notification/notification"
)

// The OpenCRVS procedures that confirm a record.
const (
	procAccept           = "event.actions.register.accept"
	procReject           = "event.actions.register.reject"
	procCorrectionAccept = "event.actions.correction.approve.accept"
)

// ---- whole-system faults through allinone's own notification service ----

// The hub at least once, in any order, and replays: the same credential
// delivered several times at once, the packet status before the
// credential, and after the confirmation the old events again, the same
// credential re-issued under a new event id, and a late FAILED status. Each
// record is accepted exactly once; nothing is dead-lettered or rejected.
func TestNotificationDuplicateReorderedReplayedDeliveries(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)
	b.waitSubscribed(t)
	nt := dialInbox(t, b.sys.Addrs["notification"])
	// The test is the hub from here on: what MOSIP publishes is queued at
	// the hub and posted by the test, in the order it chooses.
	b.sb.Hub.Pause(true)
	credTopic := mosip.CredentialTopic(b.sb.Config.PartnerID)

	birthEvent, tok := b.recordEvent(t, "birth")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"birthCertificateNumber": "EE0DUP01", "fullName": "Dupli Cate Doe", "dateOfBirth": "2025-09-03", "gender": "female"})); st != http.StatusAccepted {
		t.Fatalf("birth = %d %s", st, body)
	}
	birth := b.waitProcessed(t, 1)[0]
	credBody := b.publishedFor(t, credTopic, birth.RegistrationID)
	statusBody := b.publishedFor(t, mosip.TopicWorkflowCompleted, birth.RegistrationID)

	// Reordered: the packet status first. It cannot confirm a birth.
	b.postSigned(t, statusBody)
	waitInbox(t, nt, "the status event processed", func(ds []*notificationv1.Delivery) bool {
		return countOf(ds, func(d *notificationv1.Delivery) bool {
			return d.GetKind() == "status" && d.GetRegistrationId() == birth.RegistrationID && d.GetState() == "done"
		}) == 1
	})
	if n := len(b.sb.CRVS.CallsTo(procAccept)); n != 0 {
		t.Fatalf("%d accepts after the status event alone, want none before the credential", n)
	}

	// Duplicated: the credential four times at once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); b.postSigned(t, credBody) }()
	}
	wg.Wait()
	accepted := b.confirmation(t, birthEvent)
	psut := b.sb.Credentials.PartnerToken(birth.UIN)
	if accepted.Status != opencrvs.StatusAccepted || accepted.Declaration["child.nid"] != psut {
		t.Fatalf("birth confirmation = %+v, want accepted with child.nid %q", accepted, psut)
	}
	creds := func(ds []*notificationv1.Delivery) []*notificationv1.Delivery {
		return slices.DeleteFunc(ds, func(d *notificationv1.Delivery) bool { return d.GetKind() != "credential" })
	}
	if got := creds(inboxOf(t, nt, "")); len(got) != 1 {
		t.Fatalf("stored credential deliveries = %d, want 1 for four concurrent posts", len(got))
	}

	// Replayed after the confirmation: the same bodies again, then the
	// hub's own queued copies, then MOSIP re-issuing the credential (a new
	// event id) and a late FAILED for the same packet.
	b.postSigned(t, credBody)
	b.postSigned(t, statusBody)
	b.sb.Hub.Pause(false)
	waitUntil(t, "the hub's queue delivered", func() bool {
		for _, s := range b.sb.Hub.Subscriptions() {
			if s.Pending > 0 {
				return false
			}
		}
		return true
	})
	person, err := b.sb.Registry.Lookup(birth.UIN)
	if err != nil {
		t.Fatal(err)
	}
	reissued, err := b.sb.Credentials.IssueCredential(person, birth.RegistrationID)
	if err != nil {
		t.Fatal(err)
	}
	failed := "PACKET_FAILED"
	late, _ := json.Marshal(mosip.WorkflowCompleted{InstanceID: birth.RegistrationID, ResultCode: "FAILED", WorkflowType: "CRVS_NEW", ErrorCode: &failed})
	for _, p := range []struct {
		topic string
		body  []byte
	}{{credTopic, reissued}, {mosip.TopicWorkflowCompleted, late}} {
		if err := b.sb.Hub.Publish(p.topic, p.body); err != nil {
			t.Fatal(err)
		}
	}
	waitInbox(t, nt, "the re-issued credential and the late status processed", func(ds []*notificationv1.Delivery) bool {
		return countOf(ds, func(d *notificationv1.Delivery) bool {
			return d.GetRegistrationId() == birth.RegistrationID && d.GetState() == "done" && strings.Contains(d.GetReason(), "already confirmed")
		}) == 2
	})

	// A death: its packet status confirms it; three posts at once.
	b.sb.Hub.Pause(true)
	deathEvent, tok := b.recordEvent(t, "death")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"deathCertificateNumber": "DD0DUP01", "fullName": "Dupli Cate Doe", "dateOfBirth": "2025-09-03",
		"gender": "female", "nationalIdNumber": birth.UIN})); st != http.StatusAccepted {
		t.Fatalf("death = %d %s", st, body)
	}
	death := b.waitProcessed(t, 2)[1]
	deathStatus := b.publishedFor(t, mosip.TopicWorkflowCompleted, death.RegistrationID)
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); b.postSigned(t, deathStatus) }()
	}
	wg.Wait()
	if c := b.confirmation(t, deathEvent); c.Status != opencrvs.StatusAccepted || c.Declaration["child.nid"] != nil {
		t.Fatalf("death confirmation = %+v, want accepted without a national id", c)
	}
	b.postSigned(t, deathStatus) // replayed after the confirmation
	b.sb.Hub.Pause(false)

	all := inboxOf(t, nt, "")
	if dead := inboxOf(t, nt, "dead"); len(dead) != 0 {
		t.Errorf("dead letters: %v", dead)
	}
	if n := countOf(all, func(d *notificationv1.Delivery) bool { return d.GetRegistrationId() == death.RegistrationID }); n != 1 {
		t.Errorf("deliveries of the death's RID = %d, want 1", n)
	}
	assertOneAccept(t, b.sb.CRVS, birthEvent, psut)
	assertOneAccept(t, b.sb.CRVS, deathEvent, "")
	if n := len(crvsOK(b.sb.CRVS, procReject)); n != 0 {
		t.Errorf("%d rejects, want none", n)
	}
}

// Two credentials of one registration arriving together (MOSIP re-issued
// it, and the hub delivers both at once) are processed one after the
// other: OpenCRVS gets one register.accept call per record, not one per
// credential.
func TestConcurrentCredentialsOfOneRegistration(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)
	b.waitSubscribed(t)
	b.sb.Hub.Pause(true)
	credTopic := mosip.CredentialTopic(b.sb.Config.PartnerID)
	const births = 4
	events := make([]string, births)
	for i := range births {
		var tok string
		events[i], tok = b.recordEvent(t, "birth")
		if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
			"birthCertificateNumber": fmt.Sprintf("EE0TWO%02d", i), "fullName": "Twice Issued Doe", "dateOfBirth": "2025-09-04",
			"gender": "female"})); st != http.StatusAccepted {
			t.Fatalf("birth %d = %d %s", i, st, body)
		}
	}
	var wg sync.WaitGroup
	for _, p := range b.waitProcessed(t, births) {
		first := b.publishedFor(t, credTopic, p.RegistrationID)
		person, err := b.sb.Registry.Lookup(p.UIN)
		if err != nil {
			t.Fatal(err)
		}
		second, err := b.sb.Credentials.IssueCredential(person, p.RegistrationID)
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range [][]byte{first, second} {
			wg.Go(func() { b.postSigned(t, body) })
		}
	}
	wg.Wait()
	for _, ev := range events {
		if c := b.confirmation(t, ev); c.Status != opencrvs.StatusAccepted {
			t.Fatalf("event %s confirmation = %+v, want accepted", ev, c)
		}
	}
	nt := dialInbox(t, b.sys.Addrs["notification"])
	waitInbox(t, nt, "both credentials of each birth processed", func(ds []*notificationv1.Delivery) bool {
		return countOf(ds, func(d *notificationv1.Delivery) bool { return d.GetKind() == "credential" && d.GetState() == "done" }) == 2*births
	})
	for _, ev := range events {
		calls := 0
		for _, c := range b.sb.CRVS.CallsTo(procAccept) {
			if callInput(c)["eventId"] == ev {
				calls++
			}
		}
		if calls != 1 {
			t.Errorf("event %s: %d register.accept calls, want 1", ev, calls)
		}
	}
}

// A correction is accepted through correction.approve.accept, with the
// pending APPROVE_CORRECTION's requestId and the PSUT of the identity.
// The sandbox's MOSIP issues no credential after an update, so the test
// publishes the one MOSIP's credential requestor stage issues then.
func TestCorrectionConfirmedInOpenCRVS(t *testing.T) {
	t.Parallel()
	b := startBridge(t, nil)
	b.waitSubscribed(t)

	birthEvent, tok := b.recordEvent(t, "birth")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"birthCertificateNumber": "EE0COR01", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01", "gender": "male"})); st != http.StatusAccepted {
		t.Fatalf("birth = %d %s", st, body)
	}
	b.confirmation(t, birthEvent)
	birth := b.waitProcessed(t, 1)[0]
	person, err := b.sb.Registry.Lookup(birth.UIN)
	if err != nil {
		t.Fatal(err)
	}

	corrEvent := b.sb.CRVS.CreateEvent("birth", map[string]any{})
	actionID, requestID, err := b.sb.CRVS.RequestAction(corrEvent, opencrvs.ActionApproveCorrection)
	if err != nil {
		t.Fatal(err)
	}
	corrTok, err := b.sb.CRVS.Auth().RecordToken(opencrvsRecordOptions(corrEvent, actionID))
	if err != nil {
		t.Fatal(err)
	}
	if st, body := b.post(t, "/events/update-biographics", corrTok, payload(map[string]any{
		"VID": person.VID, "fullName": "Infant Updated Doe"})); st != http.StatusAccepted {
		t.Fatalf("update-biographics = %d %s", st, body)
	}
	upd := b.waitProcessed(t, 2)[1]
	if upd.Process != "CRVS_UPDATE" || upd.Status != "PROCESSED" {
		t.Fatalf("update instance = %+v", upd)
	}
	// MOSIP issues the updated identity's credential for the update
	// packet's RID; that credential confirms the correction.
	c := b.confirmation(t, corrEvent)
	psut := b.sb.Credentials.PartnerToken(birth.UIN)
	if c.Status != opencrvs.StatusAccepted || c.Type != opencrvs.ActionApproveCorrection || c.RequestID != requestID || c.Declaration["child.nid"] != psut {
		t.Fatalf("correction confirmation = %+v, want APPROVE_CORRECTION accepted with requestId %s and child.nid %s", c, requestID, psut)
	}
	calls := crvsOK(b.sb.CRVS, procCorrectionAccept)
	if len(calls) != 1 || callInput(calls[0])["requestId"] != requestID {
		t.Errorf("successful correction accepts = %+v, want one with requestId %s", calls, requestID)
	}
	if n := len(crvsOK(b.sb.CRVS, procAccept)); n != 1 {
		t.Errorf("register.accept calls = %d, want 1 (the birth)", n)
	}
}

// TestRegistrationsConfirmedInOpenCRVS with the packet and notification
// services on one PostgreSQL database (one DATABASE_URL, one schema): the
// migrations of both and River's live side by side, each service works its
// own queue, and birth, death and reject end as in SQLite.
func TestRegistrationsConfirmedInOpenCRVSOnPostgres(t *testing.T) {
	t.Parallel()
	url := sqlstoretest.PostgresURL(t, "e2e_confirm")
	riverSchema(t, url)
	b := startBridge(t, map[string]string{"DATABASE_URL": url})
	b.waitSubscribed(t)
	confirmBirthDeathReject(t, b)

	admin := pgAdmin(t, url)
	var tables []string
	rows, err := admin.Query(context.Background(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, want := range []string{"notification_deliveries", "notification_schema_migrations", "packet_transactions",
		"packet_schema_migrations", "river_job", "river_migration"} {
		if !slices.Contains(tables, want) {
			t.Errorf("table %s missing from the shared schema: %v", want, tables)
		}
	}
	var queues []string
	// The queues River's producers registered: the packet service's jobs
	// of requests that drove their packets to MOSIP are gone already.
	rows, err = admin.Query(context.Background(), `SELECT name FROM river_queue ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q string
		_ = rows.Scan(&q)
		queues = append(queues, q)
	}
	rows.Close()
	if !slices.Contains(queues, "notification") || !slices.Contains(queues, "default") {
		t.Errorf("River queues = %v, want the packet service's and notification", queues)
	}
}

// confirmBirthDeathReject is TestRegistrationsConfirmedInOpenCRVS's loop:
// a birth accepted with the PSUT, that person's death accepted without a
// national id, and a packet MOSIP rejects rejecting its record.
func confirmBirthDeathReject(t *testing.T, b *bridge) {
	t.Helper()
	birthEvent, tok := b.recordEvent(t, "birth")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"birthCertificateNumber": "EE0PG0001", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01", "gender": "male"})); st != http.StatusAccepted {
		t.Fatalf("birth = %d %s", st, body)
	}
	accepted := b.confirmation(t, birthEvent)
	birth := b.waitProcessed(t, 1)[0]
	psut := b.sb.Credentials.PartnerToken(birth.UIN)
	if accepted.Status != opencrvs.StatusAccepted || accepted.Declaration["child.nid"] != psut {
		t.Fatalf("birth confirmation = %+v, want accepted with child.nid %q", accepted, psut)
	}

	deathEvent, tok := b.recordEvent(t, "death")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"deathCertificateNumber": "DD0PG0001", "fullName": "Infant Middle Doe", "dateOfBirth": "2025-09-01",
		"gender": "male", "nationalIdNumber": birth.UIN})); st != http.StatusAccepted {
		t.Fatalf("death = %d %s", st, body)
	}
	if death := b.confirmation(t, deathEvent); death.Status != opencrvs.StatusAccepted || death.Declaration["child.nid"] != nil {
		t.Fatalf("death confirmation = %+v, want accepted without a national id", death)
	}

	rejectEvent, tok := b.recordEvent(t, "birth")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"birthCertificateNumber": "EE0PGREJ", "fullName": "Baby REJECT Doe", "dateOfBirth": "2025-09-02", "gender": "female"})); st != http.StatusAccepted {
		t.Fatalf("birth to reject = %d %s", st, body)
	}
	if rejected := b.confirmation(t, rejectEvent); rejected.Status != opencrvs.StatusRejected {
		t.Fatalf("rejected packet's record = %+v, want rejected", rejected)
	}
	assertOneAccept(t, b.sb.CRVS, birthEvent, psut)
	assertOneAccept(t, b.sb.CRVS, deathEvent, "")
	if n := len(crvsOK(b.sb.CRVS, procReject)); n != 1 {
		t.Errorf("%d successful rejects, want 1", n)
	}
}

// PostgreSQL restarting under the packet and notification services (every
// connection they hold terminated, again and again, while the hub
// delivers): a delivery is stored, or refused with 503 and delivered again
// by the hub — never acknowledged and lost — and the record is accepted
// once afterwards.
func TestNotificationSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	var b8 [6]byte
	_, _ = rand.Read(b8[:])
	app := "mosipcrvs-e2e-" + hex.EncodeToString(b8[:])
	url := sqlstoretest.WithParams(sqlstoretest.PostgresURL(t, "e2e_restart"), map[string]string{"application_name": app})
	riverSchema(t, url)
	b := startBridge(t, map[string]string{"DATABASE_URL": url, "NOTIFICATION_RETRY_BASE": "50ms", "NOTIFICATION_RETRY_CAP": "200ms",
		"MOSIP_WEBSUB_RESUBSCRIBE_INTERVAL": "1s"})
	b.waitSubscribed(t)
	admin := pgAdmin(t, url)

	b.sb.Hub.Pause(true)
	const n = 3
	var events []string
	for i := range n {
		ev, tok := b.recordEvent(t, "birth")
		if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
			"birthCertificateNumber": fmt.Sprintf("EE0PGDOWN%d", i), "fullName": "Restart Doe", "dateOfBirth": "2025-09-04", "gender": "male"})); st != http.StatusAccepted {
			t.Fatalf("birth %d = %d %s", i, st, body)
		}
		events = append(events, ev)
	}
	births := b.waitProcessed(t, n)

	// "Restart": terminate the services' sessions every 5 ms for 1.5 s
	// while the hub delivers the credential and the status.
	var killed atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var n int64
			err := admin.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE application_name = $1 AND pid <> pg_backend_pid()) AS t`, app).Scan(&n)
			if err == nil {
				killed.Add(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	b.sb.Hub.Pause(false)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	<-done
	if killed.Load() == 0 {
		t.Fatal("no session was terminated: the restart did not happen")
	}

	uins := map[string]string{} // RID → UIN
	for _, in := range births {
		uins[in.RegistrationID] = in.UIN
	}
	for _, ev := range events {
		accepted := b.confirmation(t, ev)
		if accepted.Status != opencrvs.StatusAccepted {
			t.Fatalf("confirmation = %+v, want accepted", accepted)
		}
	}
	for _, in := range births {
		psut := b.sb.Credentials.PartnerToken(in.UIN)
		var ev string
		for _, c := range crvsOK(b.sb.CRVS, procAccept) {
			if d, _ := callInput(c)["declaration"].(map[string]any); d["child.nid"] == psut {
				ev, _ = callInput(c)["eventId"].(string)
			}
		}
		if ev == "" {
			t.Errorf("no record accepted with the PSUT of %s", in.RegistrationID)
			continue
		}
		assertOneAccept(t, b.sb.CRVS, ev, psut)
	}
	// The hub got 200 (stored) or 503 (not stored, delivered again): never
	// anything else, and nothing is left undelivered.
	for _, d := range b.sb.Hub.Deliveries() {
		if d.Error == "" && d.Status != http.StatusOK && d.Status != http.StatusServiceUnavailable {
			t.Errorf("hub delivery answered %d, want 200 or 503", d.Status)
		}
	}
	waitUntil(t, "every message delivered", func() bool {
		for _, s := range b.sb.Hub.Subscriptions() {
			if s.Pending > 0 || s.State != mosip.SubscriptionActive {
				return false
			}
		}
		return true
	})
	refused := countOf(b.sb.Hub.Deliveries(), func(d mosip.Delivery) bool { return d.Status == http.StatusServiceUnavailable })
	t.Logf("sessions terminated: %d; hub attempts: %d, refused with 503: %d", killed.Load(), len(b.sb.Hub.Deliveries()), refused)
}

// ---- faults that need the notification service started by the test ----

// OpenCRVS answers 503 for ten minutes of simulated time: the credential is
// retried all along (full jitter, here with short real waits) and, with the
// 72 h horizon measured on the service's clock, is not dead-lettered; once
// OpenCRVS is back the record is accepted once. With a horizon shorter than
// the outage the same delivery becomes a dead letter "gave up after 10m…",
// which proves the horizon is read on that clock, and an operator's replay
// then confirms the record. (That a retry never waits longer than the
// 5-minute cap is TestRetryPolicyHonoursCap's.)
func TestNotificationRetriesThroughOpenCRVSOutage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, horizon string
		dead          bool
	}{
		{"default 72h horizon", "72h", false},
		{"horizon shorter than the outage", "9m30s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newSimClock()
			fb := startFaultBridge(t, map[string]string{"NOTIFICATION_RETRY_BASE": "10ms", "NOTIFICATION_RETRY_CAP": "40ms",
				"NOTIFICATION_RETRY_HORIZON": tc.horizon})
			nt := fb.startNotification(t, func(c *notification.Config) { c.Clock = clock.Now })
			b := fb.bridge()
			b.waitSubscribed(t)
			fb.sb.CRVS.FailNext(1<<30, http.StatusServiceUnavailable)

			ev, tok := b.recordEvent(t, "birth")
			if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
				"birthCertificateNumber": "EE0DOWN01", "fullName": "Outage Doe", "dateOfBirth": "2025-09-05", "gender": "female"})); st != http.StatusAccepted {
				t.Fatalf("birth = %d %s", st, body)
			}
			birth := b.waitProcessed(t, 1)[0]
			cred := func() *notificationv1.Delivery {
				for _, d := range inboxOf(t, nt.client, "") {
					if d.GetKind() == "credential" {
						return d
					}
				}
				return nil
			}
			waitUntil(t, "the credential retried", func() bool { d := cred(); return d != nil && d.GetAttempts() >= 2 })
			for minute := 1; minute <= 10; minute++ {
				clock.Advance(time.Minute)
				before := cred().GetAttempts()
				waitUntil(t, fmt.Sprintf("a retry at minute %d", minute), func() bool {
					d := cred()
					return d.GetAttempts() > before || d.GetState() != "received"
				})
				if d := cred(); d.GetState() != "received" {
					if !tc.dead || minute < 10 {
						t.Fatalf("at minute %d of the outage the delivery is %s (%s)", minute, d.GetState(), d.GetReason())
					}
				}
			}
			if n := len(crvsOK(fb.sb.CRVS, procAccept)); n != 0 {
				t.Fatalf("%d accepts while OpenCRVS was down", n)
			}
			if n := len(crvsWithStatus(fb.sb.CRVS, http.StatusServiceUnavailable)); n < 10 {
				t.Errorf("OpenCRVS answered 503 %d times, want at least one per simulated minute", n)
			}
			fb.sb.CRVS.FailNext(0, 0)

			if tc.dead {
				waitUntil(t, "the dead letter", func() bool { return cred().GetState() == "dead" })
				d := cred()
				if !strings.HasPrefix(d.GetReason(), "gave up after 10m0s: ") || !strings.Contains(d.GetReason(), "503") {
					t.Errorf("dead letter reason %q, want it to give up after 10m of 503s", d.GetReason())
				}
				if _, err := nt.client.ReplayDelivery(context.Background(), &notificationv1.ReplayDeliveryRequest{EventId: d.GetEventId()}); err != nil {
					t.Fatalf("ReplayDelivery() = %v", err)
				}
			}
			accepted := b.confirmation(t, ev)
			psut := fb.sb.Credentials.PartnerToken(birth.UIN)
			if accepted.Status != opencrvs.StatusAccepted || accepted.Declaration["child.nid"] != psut {
				t.Fatalf("confirmation = %+v, want accepted with child.nid %q", accepted, psut)
			}
			assertOneAccept(t, fb.sb.CRVS, ev, psut)
			waitUntil(t, "the delivery done", func() bool { return cred().GetState() == "done" })
			if !tc.dead {
				if dead := inboxOf(t, nt.client, "dead"); len(dead) != 0 {
					t.Errorf("dead letters after a 10-minute outage with a 72h horizon: %v", dead)
				}
				if d := cred(); d.GetAttempts() < 12 {
					t.Errorf("attempts = %d, want retries all through the outage", d.GetAttempts())
				}
			}
		})
	}
}

// The notification service stops while it is confirming a record — the
// accept in flight, or already applied by OpenCRVS with the answer not yet
// back — and a new instance starts on the same database: the record ends
// accepted exactly once.
func TestNotificationStoppedMidProcessing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mode    int32
		applied int // successful accepts when the first instance stops
		outcome string
	}{
		{"accept in flight", tapHold, 0, "confirmed (accepted)"},
		{"accept applied and its answer lost", tapSwallow, 1, "confirmed (already_done)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb := startFaultBridge(t, map[string]string{"NOTIFICATION_RETRY_BASE": "50ms", "NOTIFICATION_RETRY_CAP": "200ms"})
			first := fb.startNotification(t, nil)
			b := fb.bridge()
			b.waitSubscribed(t)
			fb.tap.mode.Store(tc.mode)

			ev, tok := b.recordEvent(t, "birth")
			if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
				"birthCertificateNumber": "EE0KILL01", "fullName": "Stopped Doe", "dateOfBirth": "2025-09-06", "gender": "male"})); st != http.StatusAccepted {
				t.Fatalf("birth = %d %s", st, body)
			}
			birth := b.waitProcessed(t, 1)[0]
			waitUntil(t, "the accept in flight", func() bool { return fb.tap.held.Load() > 0 })
			stopped := time.Now()
			first.stop(t)
			if d := time.Since(stopped); d > 5*time.Second {
				t.Errorf("the service took %s to stop", d)
			}
			if n := len(crvsOK(fb.sb.CRVS, procAccept)); n != tc.applied {
				t.Fatalf("successful accepts when the service stopped = %d, want %d", n, tc.applied)
			}

			fb.tap.mode.Store(tapPass)
			second := fb.startNotification(t, nil)
			accepted := b.confirmation(t, ev)
			psut := fb.sb.Credentials.PartnerToken(birth.UIN)
			if accepted.Status != opencrvs.StatusAccepted || accepted.Declaration["child.nid"] != psut {
				t.Fatalf("confirmation = %+v, want accepted with child.nid %q", accepted, psut)
			}
			var cred *notificationv1.Delivery
			waitUntil(t, "the credential done", func() bool {
				for _, d := range inboxOf(t, second.client, "") {
					if d.GetKind() == "credential" && d.GetState() == "done" {
						cred = d
						return true
					}
				}
				return false
			})
			if cred.GetReason() != tc.outcome {
				t.Errorf("credential delivery reason %q, want %q", cred.GetReason(), tc.outcome)
			}
			assertOneAccept(t, fb.sb.CRVS, ev, psut)
			if dead := inboxOf(t, second.client, "dead"); len(dead) != 0 {
				t.Errorf("dead letters: %v", dead)
			}
		})
	}
}

// NOTIFICATION_REJECT_AFTER_SILENCE with two replicas on one PostgreSQL
// database: a packet whose credential and status MOSIP's hub lost is
// rejected in OpenCRVS once, after the silence, and stays rejected when the
// credential turns up late; a packet MOSIP answered (its status arrived,
// the credential not yet) is never rejected, and accepted when the
// credential comes.
func TestRecordRejectedAfterMOSIPSilence(t *testing.T) {
	t.Parallel()
	url := sqlstoretest.PostgresURL(t, "e2e_silence")
	fb := startFaultBridge(t, map[string]string{"DATABASE_URL": url})
	system := map[string]string{
		"NOTIFICATION_REJECT_AFTER_SILENCE": "1s",
		"OPENCRVS_AUTH_URL":                 fb.sb.URL + "/auth",
		"OPENCRVS_CLIENT_ID":                fb.sb.Config.OpenCRVSClientID,
		"OPENCRVS_CLIENT_SECRET":            fb.sb.Config.OpenCRVSClientSecret.Value(),
	}
	maps.Copy(fb.notifEnv, system)
	replicas := []*notifInstance{fb.startNotification(t, nil), fb.startNotification(t, nil)}
	b := fb.bridge()
	b.waitSubscribed(t)
	credTopic := mosip.CredentialTopic(fb.sb.Config.PartnerID)

	// Silent: both events of the packet are lost by the hub.
	fb.sb.Hub.DropNext(2)
	silentEvent, tok := b.recordEvent(t, "birth")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"birthCertificateNumber": "EE0SIL01", "fullName": "Silent Doe", "dateOfBirth": "2025-09-07", "gender": "female"})); st != http.StatusAccepted {
		t.Fatalf("silent birth = %d %s", st, body)
	}
	silent := b.waitProcessed(t, 1)[0]
	started := time.Now()
	rejected := b.confirmation(t, silentEvent)
	if rejected.Status != opencrvs.StatusRejected {
		t.Fatalf("silent record = %+v, want rejected", rejected)
	}
	if d := time.Since(started); d < 500*time.Millisecond {
		t.Errorf("rejected %s after MOSIP processed the packet, before the 1s silence", d)
	}

	// Answered: the status arrives, the credential is lost.
	fb.sb.Hub.DropNext(1)
	answeredEvent, tok := b.recordEvent(t, "birth")
	if st, body := b.post(t, "/events/registration", tok, payload(map[string]any{
		"birthCertificateNumber": "EE0SIL02", "fullName": "Answered Doe", "dateOfBirth": "2025-09-07", "gender": "male"})); st != http.StatusAccepted {
		t.Fatalf("answered birth = %d %s", st, body)
	}
	answered := b.waitProcessed(t, 2)[1]
	waitInbox(t, replicas[0].client, "the answered packet's status", func(ds []*notificationv1.Delivery) bool {
		return countOf(ds, func(d *notificationv1.Delivery) bool {
			return d.GetRegistrationId() == answered.RegistrationID && d.GetState() == "done"
		}) == 1
	})
	time.Sleep(3 * time.Second) // three silences
	if ev, _ := fb.sb.CRVS.Event(answeredEvent); len(ev.Actions) > 0 {
		for _, a := range ev.Actions {
			if a.Status == opencrvs.StatusRejected {
				t.Fatal("a packet MOSIP answered was rejected for silence")
			}
		}
	}

	// The late credentials: the silent record stays rejected, the
	// answered one is accepted.
	for _, inst := range []mosip.WorkflowInstance{silent, answered} {
		person, err := fb.sb.Registry.Lookup(inst.UIN)
		if err != nil {
			t.Fatal(err)
		}
		cred, err := fb.sb.Credentials.IssueCredential(person, inst.RegistrationID)
		if err != nil {
			t.Fatal(err)
		}
		if err := fb.sb.Hub.Publish(credTopic, cred); err != nil {
			t.Fatal(err)
		}
	}
	if c := b.confirmation(t, answeredEvent); c.Status != opencrvs.StatusAccepted {
		t.Fatalf("answered record = %+v, want accepted", c)
	}
	assertOneAccept(t, fb.sb.CRVS, answeredEvent, fb.sb.Credentials.PartnerToken(answered.UIN))
	waitInbox(t, replicas[0].client, "the late credential of the silent packet", func(ds []*notificationv1.Delivery) bool {
		return countOf(ds, func(d *notificationv1.Delivery) bool {
			return d.GetKind() == "credential" && d.GetRegistrationId() == silent.RegistrationID && d.GetState() == "done"
		}) == 1
	})
	if ev, _ := fb.sb.CRVS.Event(silentEvent); ev.ID != "" {
		for _, a := range ev.Actions {
			if a.Status == opencrvs.StatusAccepted && a.Type == opencrvs.ActionRegister {
				t.Error("the rejected record was accepted by the late credential")
			}
		}
	}
	rejects := crvsOK(fb.sb.CRVS, procReject)
	if len(rejects) != 1 || callInput(rejects[0])["eventId"] != silentEvent {
		t.Errorf("successful rejects = %d, want 1 for the silent record", len(rejects))
	}
	entries := countOf(inboxOf(t, replicas[1].client, ""), func(d *notificationv1.Delivery) bool {
		return strings.HasPrefix(d.GetEventId(), "silence-")
	})
	if entries != 1 {
		t.Errorf("silence entries = %d, want 1 however many replicas sweep", entries)
	}
	pk := packetv1.NewPacketServiceClient(faultDial(t, fb.sys.Addrs["packet"]))
	list, err := pk.ListTransactions(context.Background(), &packetv1.ListTransactionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tx := range list.GetTransactions() {
		if tx.GetEventId() != silentEvent {
			continue
		}
		h, err := pk.GetTransactionHistory(context.Background(), &packetv1.GetTransactionHistoryRequest{TransactionId: tx.GetTransactionId()})
		if err != nil {
			t.Fatal(err)
		}
		last := h.GetEntries()[len(h.GetEntries())-1]
		if h.GetStatus() != "rejected" || !strings.Contains(last.GetDetail(), "no answer from MOSIP within 1s") {
			t.Errorf("silent transaction %s, last step %q; want rejected for silence", h.GetStatus(), last.GetDetail())
		}
	}
}

// ---- helpers ----

// faultBridge is the whole system in front of a sandbox, with the
// notification service run by the test (restartable, with a simulated
// clock), behind a callback that forwards to whichever instance runs, as
// the gateway's /websub/callback does. allinone's own notification service
// is pointed at a hub that does not exist, so it never subscribes.
type faultBridge struct {
	sb       *server.Sandbox
	sys      *allinone.System
	tap      *crvsTap
	notifEnv map[string]string
	callback *httptest.Server
	cur      atomic.Pointer[notifInstance]
}

// Modes of the crvsTap on register.accept.
const (
	tapPass    int32 = iota
	tapHold          // held until the caller gives up; OpenCRVS never sees it
	tapSwallow       // applied by OpenCRVS, the answer never sent
)

// crvsTap sits in front of the sandbox and can hold up register.accept.
type crvsTap struct {
	next http.Handler
	mode atomic.Int32
	held atomic.Int32
	// closed releases held requests when the test ends.
	closed chan struct{}
}

func (c *crvsTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode := c.mode.Load()
	if mode == tapPass || !strings.HasSuffix(r.URL.Path, "/"+procAccept) {
		c.next.ServeHTTP(w, r)
		return
	}
	if mode == tapSwallow {
		c.next.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.WithoutCancel(r.Context())))
	}
	c.held.Add(1)
	select {
	case <-r.Context().Done():
	case <-c.closed:
	}
}

func startFaultBridge(t *testing.T, extra map[string]string) *faultBridge {
	t.Helper()
	fb := &faultBridge{}
	sb, _ := startSandbox(t, nil, func(h http.Handler) http.Handler {
		fb.tap = &crvsTap{next: h, closed: make(chan struct{})}
		return fb.tap
	})
	fb.sb = sb
	// Runs before the sandbox's server closes (cleanups run last first):
	// held requests must be let go for it to close.
	t.Cleanup(func() { close(fb.tap.closed) })
	fb.callback = httptest.NewServer(http.HandlerFunc(fb.serveCallback))
	t.Cleanup(fb.callback.Close)

	env := bridgeEnv(t, sb)
	maps.Copy(env, extra)
	fb.notifEnv = maps.Clone(env)
	// allinone's notification service: nothing listens on port 1.
	env["MOSIP_WEBSUB_HUB_URL"] = "http://127.0.0.1:1/websub/hub"
	env["NOTIFICATION_SQLITE_PATH"] = filepath.Join(t.TempDir(), "idle-notification.db")
	if _, ok := env["DATABASE_URL"]; ok {
		// Keep it off the shared inbox: its workers would take the jobs.
		env["DATABASE_URL"] = sqlstoretest.PostgresURL(t, "e2e_idle")
		riverSchema(t, env["DATABASE_URL"])
	}

	sys := startSystem(t, env)
	fb.sys = sys
	fb.notifEnv["AUTH_TOKEN_ADDR"] = sys.Addrs["auth-token"]
	fb.notifEnv["PACKET_ADDR"] = sys.Addrs["packet"]
	fb.notifEnv["MOSIP_WEBSUB_CALLBACK_URL"] = fb.callback.URL + "/websub/callback"
	return fb
}

func (fb *faultBridge) bridge() *bridge { return &bridge{sb: fb.sb, sys: fb.sys} }

// notifInstance is one run of the notification service.
type notifInstance struct {
	cancel context.CancelFunc
	done   chan error
	client notificationv1.NotificationServiceClient
	once   sync.Once
}

// startNotification runs a notification service on fb's database and makes
// it the one the callback reaches.
func (fb *faultBridge) startNotification(t *testing.T, mod func(*notification.Config)) *notifInstance {
	t.Helper()
	var cfg notification.Config
	if err := config.Load(&cfg, config.MapLookuper(fb.notifEnv)); err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&cfg)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &notifInstance{cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- notification.Run(ctx, cfg, testLogger(), lis) }()
	n.client = notificationv1.NewNotificationServiceClient(faultDial(t, lis.Addr().String()))
	t.Cleanup(func() { n.stop(t) })
	waitUntil(t, "the notification service serving", func() bool {
		_, err := n.client.ListSubscriptions(context.Background(), &notificationv1.ListSubscriptionsRequest{})
		return err == nil
	})
	fb.cur.Store(n)
	return n
}

// stop cancels the instance's context, as SIGTERM does, and waits for Run.
func (n *notifInstance) stop(t *testing.T) {
	n.once.Do(func() {
		n.cancel()
		select {
		case err := <-n.done:
			if err != nil {
				t.Errorf("notification.Run() = %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("notification.Run did not return 15s after its context ended")
		}
	})
}

// serveCallback is the gateway's /websub/callback in front of the current
// instance: 401 for a bad signature, 503 when the service is down or did
// not store the delivery.
func (fb *faultBridge) serveCallback(w http.ResponseWriter, r *http.Request) {
	n := fb.cur.Load()
	if n == nil {
		http.Error(w, "notification service unavailable", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	switch r.Method {
	case http.MethodGet:
		resp, err := n.client.VerifyIntent(ctx, &notificationv1.VerifyIntentRequest{Path: r.URL.Path, RawQuery: r.URL.RawQuery})
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(int(resp.GetHttpStatus()))
		_, _ = io.WriteString(w, resp.GetBody())
	case http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		resp, err := n.client.HandleCallback(ctx, &notificationv1.HandleCallbackRequest{Body: body,
			Signature: r.Header.Get("X-Hub-Signature"), Path: r.URL.Path})
		switch status.Code(err) {
		case codes.OK:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(resp.GetAcknowledgement())
		case codes.Unauthenticated:
			http.Error(w, `{"error":"Invalid X-Hub-Signature"}`, http.StatusUnauthorized)
		default:
			http.Error(w, "not stored", http.StatusServiceUnavailable)
		}
	default:
		http.NotFound(w, r)
	}
}

// testLogger discards, unless E2E_LOG is set (debugging a fault test).
func testLogger() *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return logging.Discard()
}

// simClock stands still until Advance moves it: the ages the service
// computes are exactly the simulated time.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func newSimClock() *simClock { return &simClock{now: time.Now()} }

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func faultDial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := rpc.Dial(addr, rpc.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func dialInbox(t *testing.T, addr string) notificationv1.NotificationServiceClient {
	return notificationv1.NewNotificationServiceClient(faultDial(t, addr))
}

// inboxOf pages through a notification service's inbox.
func inboxOf(t *testing.T, c notificationv1.NotificationServiceClient, state string) []*notificationv1.Delivery {
	t.Helper()
	var out []*notificationv1.Delivery
	tok := ""
	for {
		resp, err := c.ListDeliveries(context.Background(), &notificationv1.ListDeliveriesRequest{State: state, PageSize: 500, PageToken: tok})
		if err != nil {
			t.Fatalf("ListDeliveries() = %v", err)
		}
		out = append(out, resp.GetDeliveries()...)
		if tok = resp.GetNextPageToken(); tok == "" {
			return out
		}
	}
}

func waitInbox(t *testing.T, c notificationv1.NotificationServiceClient, what string, cond func([]*notificationv1.Delivery) bool) {
	t.Helper()
	waitUntil(t, what, func() bool { return cond(inboxOf(t, c, "")) })
}

func countOf[T any](xs []T, f func(T) bool) int {
	n := 0
	for _, x := range xs {
		if f(x) {
			n++
		}
	}
	return n
}

// published waits for what MOSIP published on topic about rid.
func (b *bridge) publishedFor(t *testing.T, topic, rid string) []byte {
	t.Helper()
	var body []byte
	waitUntil(t, topic+" published for "+rid, func() bool {
		for _, p := range b.sb.Hub.Published(topic) {
			if bytes.Contains(p.Body, []byte(rid)) {
				body = p.Body
				return true
			}
		}
		return false
	})
	return body
}

// deliver posts body to the gateway's callback as the hub does, signed
// with the subscription's secret, and wants it acknowledged.
func (b *bridge) postSigned(t *testing.T, body []byte) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte("sandbox-websub-secret"))
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, b.sys.GatewayURL+"/websub/callback/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("delivery: %v", err)
		return
	}
	defer resp.Body.Close()
	ack, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(ack, []byte(`"RECEIVED"`)) {
		t.Errorf("delivery answered %d %s, want 200 with MOSIP's acknowledgement", resp.StatusCode, ack)
	}
}

// crvsOK are the calls of procedure OpenCRVS answered 200.
func crvsOK(c *opencrvs.CRVS, procedure string) []opencrvs.Call {
	return slices.DeleteFunc(c.CallsTo(procedure), func(x opencrvs.Call) bool { return x.Status != http.StatusOK })
}

func crvsWithStatus(c *opencrvs.CRVS, code int) []opencrvs.Call {
	return slices.DeleteFunc(c.Calls(), func(x opencrvs.Call) bool { return x.Status != code })
}

func callInput(c opencrvs.Call) map[string]any {
	var in map[string]any
	_ = json.Unmarshal(c.Input, &in)
	return in
}

// assertOneAccept wants exactly one successful register.accept of eventID,
// carrying child.nid = nid (none when nid is empty), and the event holding
// one confirmation.
func assertOneAccept(t *testing.T, c *opencrvs.CRVS, eventID, nid string) {
	t.Helper()
	var mine []opencrvs.Call
	for _, call := range crvsOK(c, procAccept) {
		if callInput(call)["eventId"] == eventID {
			mine = append(mine, call)
		}
	}
	if len(mine) != 1 {
		t.Errorf("event %s: %d successful register.accept calls, want exactly 1", eventID, len(mine))
		return
	}
	decl, _ := callInput(mine[0])["declaration"].(map[string]any)
	if got, _ := decl["child.nid"].(string); got != nid {
		t.Errorf("event %s: accepted with child.nid %q, want %q", eventID, got, nid)
	}
	ev, _ := c.Event(eventID)
	confirmations := 0
	for _, a := range ev.Actions {
		if a.OriginalActionID != "" {
			confirmations++
		}
	}
	if confirmations != 1 {
		t.Errorf("event %s holds %d confirmations, want 1", eventID, confirmations)
	}
}

// riverSchema creates River's tables in the database before the services
// start. Two services starting together on a fresh database (one
// DATABASE_URL for packet and notification) race on River's migrations:
// pkg/sqlstore runs them under each service's own advisory lock, so both
// create River's tables at once and one fails ("duplicate key value violates
// unique constraint pg_type_typname_nsp_index"). Until River's migrations
// take a lock common to all services, the test migrates first.
func riverSchema(t *testing.T, url string) {
	t.Helper()
	none := fstest.MapFS{"postgres/0001_none.sql": {Data: []byte("SELECT 1;")}, "sqlite/0001_none.sql": {Data: []byte("SELECT 1;")}}
	db, err := sqlstore.OpenPostgres(context.Background(), url, sqlstore.Options{Service: "e2e", Migrations: none})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
}

// pgAdmin is a connection of the test's own, beside the services'.
func pgAdmin(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	delete(cfg.RuntimeParams, "pool_max_conns") // a pool setting, not the server's
	cfg.RuntimeParams["application_name"] = "mosipcrvs-e2e-admin"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
