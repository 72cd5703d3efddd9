// Package demo registers a sample birth or death through the gateway
// exactly as OpenCRVS does and follows it to the end: into MOSIP (the
// packet processed, a UIN issued) and back into the sandbox's OpenCRVS (the
// confirmation the notification service wrote, with the national ID).
// `bridgectl demo` and the end-to-end tests use it; it talks only HTTP to
// the gateway and the sandbox's admin API.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
)

// payload returns the requestFields a country configuration sends
// (farajaland's shapes). The death is that of a sandbox identity (John Dino
// Doe), so MOSIP has someone to mark deceased.
func payload(event string, now time.Time) (map[string]any, bool) {
	switch event {
	case "birth":
		return map[string]any{"birthCertificateNumber": "DEMO" + now.Format("150405"), "fullName": "Demo Baby Doe",
			"dateOfBirth": now.AddDate(0, 0, -3).Format("2006-01-02"), "gender": "female"}, true
	case "death":
		return map[string]any{"deathCertificateNumber": "DEATH" + now.Format("150405"), "fullName": "John Dino Doe",
			"dateOfBirth": "2001-02-20", "gender": "male", "nationalIdNumber": "1234567892"}, true
	}
	return nil, false
}

// Result is what the demo observed.
type Result struct {
	// EventID and ActionID name the OpenCRVS record and its REGISTER action.
	EventID, ActionID string
	// Packet is MOSIP's processed packet for the registration.
	Packet Instance
	// Confirmation is the action the bridge wrote into OpenCRVS: Accepted
	// (with child.nid for a birth) or Rejected.
	Confirmation opencrvs.Action
}

// Instance is a workflow instance as the sandbox's admin API lists it.
type Instance struct{ RegistrationID, Process, Status, ErrorCode string }

// Run registers a sample event ("birth" or "death") through gatewayURL,
// waits for MOSIP (the sandbox at sandboxURL) to process the packet and for
// the confirmation to reach OpenCRVS, and narrates each step to w.
func Run(ctx context.Context, w io.Writer, gatewayURL, sandboxURL, event string) (Result, error) {
	var res Result
	fields, ok := payload(event, time.Now())
	if !ok {
		return res, fmt.Errorf("demo: event must be birth or death, got %q", event)
	}
	var rec struct{ EventID, ActionID, Token string }
	if err := doJSON(ctx, http.MethodPost, sandboxURL+"/sandbox/admin/opencrvs/records", map[string]string{"event": event}, &rec); err != nil {
		return res, fmt.Errorf("creating the OpenCRVS record in the sandbox: %w", err)
	}
	res.EventID, res.ActionID = rec.EventID, rec.ActionID
	fmt.Fprintf(w, "1. OpenCRVS record %s waits for external validation (REGISTER action %s)\n", rec.EventID, rec.ActionID)
	before, err := processed(ctx, sandboxURL)
	if err != nil {
		return res, err
	}
	body := map[string]any{
		"trackingId": "DEMO", "requestFields": fields, "metaInfo": map[string]any{}, "audit": map[string]any{},
		// The literal "@TODO" values are what farajaland sends today (see
		// shared/reference/opencrvs-side.md §1.1); the demo posts the same body.
		"notification": map[string]string{"recipientFullName": "@TODO", "recipientEmail": "@TODO", "recipientPhone": "@TODO"},
	}
	start := time.Now()
	status, answer, err := post(ctx, gatewayURL+"/events/registration", rec.Token, body)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(w, "2. POST /events/registration → %d %s (%s)\n", status, answer, time.Since(start).Round(time.Millisecond))
	if status != http.StatusAccepted {
		return res, errors.New("the gateway refused the registration")
	}

	err = poll(ctx, func() (bool, error) {
		done, err := processed(ctx, sandboxURL)
		if err != nil || len(done) <= len(before) {
			return false, err
		}
		for _, in := range done {
			if !slices.Contains(before, in) {
				res.Packet = in
			}
		}
		return true, nil
	})
	if err != nil {
		return res, fmt.Errorf("waiting for MOSIP to process the packet: %w (see %s/sandbox/admin)", err, sandboxURL)
	}
	fmt.Fprintf(w, "3. MOSIP processed packet %s (%s): %s %s\n", res.Packet.RegistrationID, res.Packet.Process, res.Packet.Status, res.Packet.ErrorCode)

	err = poll(ctx, func() (bool, error) {
		var ev opencrvs.EventDocument
		if err := doJSON(ctx, http.MethodGet, sandboxURL+"/sandbox/admin/opencrvs/records/"+rec.EventID, nil, &ev); err != nil {
			return false, err
		}
		c, ok := ev.Confirmation(rec.ActionID)
		res.Confirmation = c
		return ok, nil
	})
	if err != nil {
		return res, fmt.Errorf("waiting for the confirmation in OpenCRVS: %w (see GET /v1/deliveries on the gateway and %s/sandbox/admin/opencrvs/calls)", err, sandboxURL)
	}
	c := res.Confirmation
	fmt.Fprintf(w, "4. OpenCRVS received %s: %s", c.Type, c.Status)
	if c.RegistrationNumber != "" {
		fmt.Fprintf(w, ", registration number %s", c.RegistrationNumber)
	}
	if nid, ok := c.Declaration["child.nid"]; ok {
		fmt.Fprintf(w, ", national ID child.nid = %v", nid)
	} else if c.Status == opencrvs.StatusAccepted {
		fmt.Fprint(w, " (no national ID: MOSIP issues none for a death)")
	}
	fmt.Fprintf(w, " — %s after the POST\n", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// poll calls check every 200 ms until it reports done, fails, or ctx ends.
func poll(ctx context.Context, check func() (bool, error)) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// processed lists the workflow instances MOSIP finished.
func processed(ctx context.Context, sandboxURL string) ([]Instance, error) {
	var state struct {
		WorkflowInstances []Instance `json:"workflowInstances"`
	}
	if err := doJSON(ctx, http.MethodGet, sandboxURL+"/sandbox/admin", nil, &state); err != nil {
		return nil, fmt.Errorf("reading the sandbox state: %w", err)
	}
	var out []Instance
	for _, in := range state.WorkflowInstances {
		if in.Status != "PROCESSING" {
			out = append(out, in)
		}
	}
	return out, nil
}

func post(ctx context.Context, url, token string, v any) (int, string, error) {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(out), nil
}

func doJSON(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
