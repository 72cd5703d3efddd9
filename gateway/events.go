package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
)

// interopPayload is the body OpenCRVS country configurations send to
// POST /events/registration and /events/update-biographics (the
// MosipInteropPayload of @opencrvs/mosip).
type interopPayload struct {
	TrackingID    *string         `json:"trackingId"`
	Notification  json.RawMessage `json:"notification"`
	RequestFields json.RawMessage `json:"requestFields"`
	SchemaJSON    *string         `json:"schemaJson"`
	MetaInfo      json.RawMessage `json:"metaInfo"`
	Audit         json.RawMessage `json:"audit"`
}

type notificationBody struct {
	RecipientFullName string `json:"recipientFullName"`
	RecipientEmail    string `json:"recipientEmail"`
	RecipientPhone    string `json:"recipientPhone"`
}

// registration serves POST /events/registration: a birth or death
// registration for MOSIP.
func (g *Gateway) registration(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	g.submit(w, r, packetv1.SubmissionKind_SUBMISSION_KIND_REGISTRATION)
}

// updateBiographics serves POST /events/update-biographics: a correction of
// an existing identity (one CRVS_UPDATE packet, nothing comes back).
func (g *Gateway) updateBiographics(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	g.submit(w, r, packetv1.SubmissionKind_SUBMISSION_KIND_UPDATE_BIOGRAPHICS)
}

// submit parses the payload, naming every problem at once, hands it to the
// packet service with the verified token and its claims, and answers 202
// with the JSON object {} that OpenCRVS's clients parse.
func (g *Gateway) submit(w http.ResponseWriter, r *http.Request, kind packetv1.SubmissionKind) {
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	req, violations := parseInteropPayload(body)
	if len(violations) > 0 {
		g.writeRPCError(w, r, rpc.InvalidArgument("invalid registration payload", violations))
		return
	}
	req.Kind = kind
	if claims, ok := ClaimsFromContext(r.Context()); ok {
		req.CrvsToken = claims.Token.Value()
		req.EventId = claims.EventID
		req.ActionId = claims.ActionID
	}
	if _, err := g.clients.packet.SubmitRegistration(r.Context(), req); err != nil {
		g.writeRPCError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte("{}"))
}

// parseInteropPayload checks the payload's shape; values are checked by the
// packet service against the ID schema. Violations never quote values:
// they are personal data.
func parseInteropPayload(body []byte) (*packetv1.SubmitRegistrationRequest, map[string]string) {
	v := map[string]string{}
	var p interopPayload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil || dec.More() {
		v["body"] = "must be a JSON object"
		return nil, v
	}
	req := &packetv1.SubmitRegistrationRequest{}
	if p.TrackingID == nil || *p.TrackingID == "" {
		v["trackingId"] = "is required and must be a non-empty string"
	} else {
		req.TrackingId = *p.TrackingID
	}
	var err error
	if req.RequestFields, err = object(p.RequestFields, true); err != nil {
		v["requestFields"] = err.Error()
	}
	if req.MetaInfo, err = object(p.MetaInfo, false); err != nil {
		v["metaInfo"] = err.Error()
	}
	if req.Audit, err = object(p.Audit, false); err != nil {
		v["audit"] = err.Error()
	}
	if p.SchemaJSON != nil {
		if !json.Valid([]byte(*p.SchemaJSON)) {
			v["schemaJson"] = "must be a string holding a JSON document"
		}
		req.SchemaJson = *p.SchemaJSON
	}
	if len(p.Notification) > 0 && string(p.Notification) != "null" {
		var n notificationBody
		if err := json.Unmarshal(p.Notification, &n); err != nil {
			v["notification"] = "must be an object of strings recipientFullName, recipientEmail, recipientPhone"
		} else {
			req.Notification = &packetv1.Notification{RecipientFullName: n.RecipientFullName,
				RecipientEmail: n.RecipientEmail, RecipientPhone: n.RecipientPhone}
		}
	}
	return req, v
}

type shapeError string

func (e shapeError) Error() string { return string(e) }

// object decodes a JSON object into a Struct; absent optional objects are
// empty.
func object(raw json.RawMessage, required bool) (*structpb.Struct, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return nil, shapeError("is required and must be an object")
		}
		return &structpb.Struct{Fields: map[string]*structpb.Value{}}, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, shapeError("must be an object")
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil, shapeError("must be an object of JSON values")
	}
	return s, nil
}
