package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// demoPayloads are what a country configuration sends (farajaland's shapes).
// The death is that of a sandbox identity (John Dino Doe).
var demoPayloads = map[string]map[string]any{
	"birth": {"birthCertificateNumber": "DEMO" + time.Now().Format("150405"), "fullName": "Demo Baby Doe",
		"dateOfBirth": time.Now().AddDate(0, 0, -3).Format("2006-01-02"), "gender": "female"},
	"death": {"deathCertificateNumber": "DEATH" + time.Now().Format("150405"), "fullName": "John Dino Doe",
		"dateOfBirth": "2001-02-20", "gender": "male", "nationalIdNumber": "1234567892"},
}

// demo registers a sample birth or death through the gateway exactly as
// OpenCRVS does (a record waiting for validation in the sandbox's OpenCRVS,
// its record token, POST /events/registration) and follows it into MOSIP.
func demo(ctx context.Context, gateway, sandbox, event string) error {
	fields, ok := demoPayloads[event]
	if !ok {
		return fmt.Errorf("demo: event must be birth or death, got %q", event)
	}
	var rec struct{ EventID, ActionID, Token string }
	if err := doJSON(ctx, http.MethodPost, sandbox+"/sandbox/admin/opencrvs/records", "", map[string]string{"event": event}, &rec); err != nil {
		return fmt.Errorf("creating the OpenCRVS record in the sandbox: %w", err)
	}
	fmt.Printf("OpenCRVS record %s waits for validation (action %s)\n", rec.EventID, rec.ActionID)
	before, err := processed(ctx, sandbox)
	if err != nil {
		return err
	}
	payload := map[string]any{
		"trackingId": "DEMO", "requestFields": fields, "metaInfo": map[string]any{}, "audit": map[string]any{},
		"notification": map[string]string{"recipientFullName": "@TODO", "recipientEmail": "@TODO", "recipientPhone": "@TODO"},
	}
	start := time.Now()
	status, body, err := post(ctx, gateway+"/events/registration", rec.Token, payload)
	if err != nil {
		return err
	}
	fmt.Printf("POST /events/registration → %d %s (%s)\n", status, body, time.Since(start).Round(time.Millisecond))
	if status != http.StatusAccepted {
		return fmt.Errorf("the gateway refused the registration")
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		done, err := processed(ctx, sandbox)
		if err != nil {
			return err
		}
		if len(done) > len(before) {
			in := done[len(done)-1]
			fmt.Printf("MOSIP processed packet %s (%s): %s %s\n", in.RegistrationID, in.Process, in.Status, in.ErrorCode)
			return nil
		}
	}
	return fmt.Errorf("MOSIP did not process the packet within 30 s; see %s/sandbox/admin", sandbox)
}

type instance struct{ RegistrationID, Process, Status, ErrorCode string }

func processed(ctx context.Context, sandbox string) ([]instance, error) {
	var state struct {
		WorkflowInstances []instance `json:"workflowInstances"`
	}
	if err := doJSON(ctx, http.MethodGet, sandbox+"/sandbox/admin", "", nil, &state); err != nil {
		return nil, fmt.Errorf("reading the sandbox state: %w", err)
	}
	var out []instance
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
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), nil
}

func doJSON(ctx context.Context, method, url, token string, in, out any) error {
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
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
