package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// FormPage is the OpenCRVS form page the eSignet demo signs in from; the
// sandbox's eSignet accepts redirects to http://localhost:3000/**.
const FormPage = "http://localhost:3000/events/declare/demo/pages/mother"

// demoPerson is a sandbox identity (one of OpenCRVS's MOSIP mock people).
var demoPerson = struct{ UIN, DOB, First, Middle, Surname, Gender string }{
	"1234567890", "2008-02-29", "Charles", "Dikkens", "Doe 2nd", "male"}

// Verify checks a parent against MOSIP IDA through POST /verify twice, as
// the country configuration's verifyNid does: the sandbox person's true
// details (answer "verified") and a wrong birth date ("failed"). token is
// an OpenCRVS user token. It returns the two answers.
func Verify(ctx context.Context, w io.Writer, gatewayURL, token string) (right, wrong string, err error) {
	ask := func(dob string) (string, error) {
		body := map[string]any{"nid": demoPerson.UIN, "dob": dob, "gender": demoPerson.Gender,
			"name": map[string]string{"firstname": demoPerson.First, "middlename": demoPerson.Middle, "surname": demoPerson.Surname}}
		status, answer, err := post(ctx, gatewayURL+"/verify", token, body)
		if err != nil {
			return "", err
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("POST /verify → %d %s", status, answer)
		}
		return answer, nil
	}
	if right, err = ask(demoPerson.DOB); err != nil {
		return "", "", err
	}
	fmt.Fprintf(w, "POST /verify with the person's true details (UIN %s) → %s\n", demoPerson.UIN, right)
	if wrong, err = ask("2008-03-01"); err != nil {
		return right, "", err
	}
	fmt.Fprintf(w, "POST /verify with a wrong date of birth            → %s\n", wrong)
	return right, wrong, nil
}

var transactionField = regexp.MustCompile(`name="transaction_id" value="([^"]+)"`)

// ESignet plays the browser's part of an eSignet sign-in: it opens the
// sandbox eSignet's authorize page for the OpenCRVS form page, signs in as
// a sandbox person, takes the code eSignet redirects back with, and posts
// it to the gateway's /esignet/get-oidp-user-info with the user's OpenCRVS
// token, as the form's HTTP field does. It returns the gateway's JSON.
func ESignet(ctx context.Context, w io.Writer, gatewayURL, sandboxURL, clientID, token string) (map[string]any, error) {
	q := url.Values{"client_id": {clientID}, "redirect_uri": {FormPage}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"fetch-on-mount"}, "acr_values": {"mosip:idp:acr:generated-code"},
		"claims": {`{"userinfo":{"name":{"essential":true},"birthdate":{"essential":true},"gender":{},"individual_id":{}},"id_token":{}}`}}
	authorize := sandboxURL + "/esignet/authorize"
	page, err := get(ctx, authorize+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("eSignet authorize page: %w", err)
	}
	m := transactionField.FindSubmatch(page)
	if m == nil {
		return nil, errors.New("eSignet authorize page: no login form (is the client id right?)")
	}
	form := url.Values{"transaction_id": {string(m[1])}, "individual_id": {"1234567891"}, "action": {"login"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, authorize, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || back.Query().Get("code") == "" {
		return nil, fmt.Errorf("eSignet sign-in: %d, no code in the redirect", resp.StatusCode)
	}
	fmt.Fprintf(w, "eSignet signed in sandbox person 1234567891 and redirected the browser to %s?code=…\n", FormPage)

	body := map[string]string{"clientId": clientID, "redirectUri": back.String()}
	qs := url.Values{"code": {back.Query().Get("code")}, "state": {back.Query().Get("state")}}
	status, answer, err := post(ctx, gatewayURL+"/esignet/get-oidp-user-info?"+qs.Encode(), token, body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("POST /esignet/get-oidp-user-info → %d %s", status, answer)
	}
	var person map[string]any
	if err := json.Unmarshal([]byte(answer), &person); err != nil {
		return nil, fmt.Errorf("POST /esignet/get-oidp-user-info: %w", err)
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, []byte(answer), "  ", "  ")
	fmt.Fprintf(w, "POST /esignet/get-oidp-user-info → 200, verified person data for the form:\n  %s\n", pretty.String())
	return person, nil
}

func get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%d", resp.StatusCode)
	}
	return b, err
}
