package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
)

// verifyContentType is what Fastify sent for mosip-api's string answer;
// @opencrvs/mosip reads the body with response.text().
const verifyContentType = "text/plain; charset=utf-8"

// verifyFields names the REST fields of the service's field violations.
var verifyFields = map[string]string{
	"individual_id": "nid", "date_of_birth": "dob", "name": "name", "name.first_name": "name.firstname",
	"name.middle_name": "name.middlename", "name.surname": "name.surname", "gender": "gender",
	"transaction_id": "transactionId",
}

// verify serves POST /verify, the TypeScript mosip-api's offline ID
// verification: {nid, dob (YYYY-MM-DD), name{firstname, surname,
// middlename?}, gender?, transactionId?} → 200 with the bare text
// "verified" or "failed". An IDA that gives no verdict is an error status,
// never "failed".
func (g *Gateway) verify(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	req, violations := parseVerifyRequest(body)
	if len(violations) > 0 {
		g.writeRPCError(w, r, rpc.InvalidArgument("invalid verification request", violations))
		return
	}
	resp, err := g.clients.esignetVerify.VerifyIdentity(r.Context(), req)
	if err != nil {
		g.writeRPCError(w, r, renameViolations(err, verifyFields))
		return
	}
	answer := "failed"
	if resp.GetResult() == esignetverifyv1.VerificationResult_VERIFICATION_RESULT_VERIFIED {
		answer = "verified"
	}
	w.Header().Set("Content-Type", verifyContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(answer))
}

// verifyName is the OpenCRVS NameFieldValue.
type verifyName struct {
	Firstname  json.RawMessage `json:"firstname"`
	Surname    json.RawMessage `json:"surname"`
	Middlename json.RawMessage `json:"middlename"`
}

// parseVerifyRequest checks the body's shape (the values are checked by
// the service), naming every problem at once. Violations never quote
// values: they are personal data.
func parseVerifyRequest(body []byte) (*esignetverifyv1.VerifyIdentityRequest, map[string]string) {
	v := map[string]string{}
	fields, ok := jsonObject(body, v)
	if !ok {
		return nil, v
	}
	req := &esignetverifyv1.VerifyIdentityRequest{}
	req.IndividualId = stringField(fields, "nid", true, v)
	req.DateOfBirth = stringField(fields, "dob", true, v)
	req.Gender = stringField(fields, "gender", false, v)
	req.TransactionId = stringField(fields, "transactionId", false, v)
	raw, present := fields["name"]
	switch {
	case !present || isNull(raw):
		v["name"] = "is required: an object with firstname and surname"
	default:
		var n verifyName
		if err := json.Unmarshal(raw, &n); err != nil {
			v["name"] = "must be an object with firstname and surname"
			break
		}
		nf := map[string]json.RawMessage{"firstname": n.Firstname, "surname": n.Surname, "middlename": n.Middlename}
		req.Name = &esignetverifyv1.PersonName{
			FirstName:  stringFieldAs(nf, "firstname", "name.firstname", true, v),
			Surname:    stringFieldAs(nf, "surname", "name.surname", true, v),
			MiddleName: stringFieldAs(nf, "middlename", "name.middlename", false, v),
		}
	}
	return req, v
}

// jsonObject decodes a UTF-8 JSON object into its members, recording a
// "body" violation otherwise.
func jsonObject(body []byte, v map[string]string) (map[string]json.RawMessage, bool) {
	if !utf8.Valid(body) {
		v["body"] = "must be UTF-8 JSON"
		return nil, false
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		v["body"] = "must be a JSON object"
		return nil, false
	}
	return fields, true
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func stringField(fields map[string]json.RawMessage, name string, required bool, v map[string]string) string {
	return stringFieldAs(fields, name, name, required, v)
}

// stringFieldAs reads member key as a string; the violation names field.
func stringFieldAs(fields map[string]json.RawMessage, key, field string, required bool, v map[string]string) string {
	raw, ok := fields[key]
	if !ok || isNull(raw) {
		if required {
			v[field] = "is required"
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v[field] = "must be a string"
		return ""
	}
	return s
}

// renameViolations rewrites the field names of an InvalidArgument's
// BadRequest from the service's (proto) names to the REST body's.
func renameViolations(err error, names map[string]string) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return err
	}
	violations := map[string]string{}
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, fv := range br.GetFieldViolations() {
			f := fv.GetField()
			if n, ok := names[f]; ok {
				f = n
			}
			violations[f] = fv.GetDescription()
		}
	}
	if len(violations) == 0 {
		return err
	}
	return rpc.InvalidArgument(st.Message(), violations)
}
