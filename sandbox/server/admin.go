package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/opencrvs"
)

// AdminPrefix is where the admin API lives; it is never fault-injected.
const AdminPrefix = "/sandbox/admin"

// registerAdmin mounts the admin API:
//
//	GET    /sandbox/admin                  what the sandbox holds (counts, subscriptions, workflow instances)
//	GET    /sandbox/admin/faults           fault rules; PUT/DELETE /sandbox/admin/faults/{endpoint}
//	PUT    /sandbox/admin/hub              hub knobs {"paused","duplicate","reorder","dropNext"}
//	POST   /sandbox/admin/opencrvs/records create an OpenCRVS event with a requested REGISTER action and its record token
//	GET    /sandbox/admin/opencrvs/records/{id} the event document: its actions and the confirmations written
//	GET    /sandbox/admin/opencrvs/calls   what OpenCRVS received (accept/reject/get calls)
func (s *Sandbox) registerAdmin(mux *http.ServeMux) {
	s.Faults.Admin(mux, AdminPrefix+"/faults", Endpoints())
	mux.HandleFunc("GET "+AdminPrefix, s.adminState)
	mux.HandleFunc("PUT "+AdminPrefix+"/hub", s.adminHub)
	mux.HandleFunc("POST "+AdminPrefix+"/opencrvs/records", s.adminRecord)
	mux.HandleFunc("GET "+AdminPrefix+"/opencrvs/records/{id}", func(w http.ResponseWriter, r *http.Request) {
		ev, ok := s.CRVS.Event(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such event"})
			return
		}
		writeJSON(w, http.StatusOK, ev)
	})
	mux.HandleFunc("GET "+AdminPrefix+"/opencrvs/calls", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"calls": s.CRVS.Calls()})
	})
}

func (s *Sandbox) adminState(w http.ResponseWriter, _ *http.Request) {
	instances := s.RegProc.Instances()
	type inst struct {
		RegistrationID, Process, Status, ErrorCode string
	}
	list := make([]inst, 0, len(instances))
	for _, i := range instances {
		list = append(list, inst{i.RegistrationID, i.Process, i.Status, i.ErrorCode})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"authManagerCalls":   s.Auth.Calls(),
		"packets":            len(s.Packets.Packets()),
		"workflowInstances":  list,
		"credentialsIssued":  len(s.Credentials.Issued()),
		"subscriptions":      s.Hub.Subscriptions(),
		"deliveries":         len(s.Hub.Deliveries()),
		"idaCalls":           s.IDA.Calls(),
		"openCRVSCalls":      len(s.CRVS.Calls()),
		"faultsInjected":     s.Faults.Injected(),
		"credentialTopic":    s.Config.PartnerID + "/CREDENTIAL_ISSUED",
		"identitiesInMemory": len(s.Registry.All()),
	})
}

// hubKnobs are the hub's delivery faults; absent fields are left as they are.
type hubKnobs struct {
	Paused    *bool `json:"paused"`
	Duplicate *bool `json:"duplicate"`
	Reorder   *bool `json:"reorder"`
	DropNext  *int  `json:"dropNext"`
}

func (s *Sandbox) adminHub(w http.ResponseWriter, r *http.Request) {
	var k hubKnobs
	if !decode(w, r, &k) {
		return
	}
	if k.DropNext != nil && *k.DropNext < 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "dropNext must not be negative"})
		return
	}
	if k.Paused != nil {
		s.Hub.Pause(*k.Paused)
	}
	if k.Duplicate != nil {
		s.Hub.DuplicateDeliveries(*k.Duplicate)
	}
	if k.Reorder != nil {
		s.Hub.ReorderDeliveries(*k.Reorder)
	}
	if k.DropNext != nil {
		s.Hub.DropNext(*k.DropNext)
	}
	w.WriteHeader(http.StatusNoContent)
}

// recordRequest asks for an OpenCRVS record waiting for external validation.
type recordRequest struct {
	// Event is "birth" (default) or "death".
	Event string `json:"event"`
	// Generation is the token shape: "2.0" (default) or "1.9".
	Generation string `json:"generation"`
	// TTL of the record token, default 7 days.
	TTL string `json:"ttl"`
}

func (s *Sandbox) adminRecord(w http.ResponseWriter, r *http.Request) {
	req := recordRequest{Event: "birth", Generation: opencrvs.Generation20}
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	if req.Event != "birth" && req.Event != "death" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `event must be "birth" or "death"`})
		return
	}
	if req.Generation != opencrvs.Generation19 && req.Generation != opencrvs.Generation20 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `generation must be "1.9" or "2.0"`})
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "ttl must be a positive duration such as 1h"})
			return
		}
		ttl = d
	}
	eventID := s.CRVS.CreateEvent(req.Event, map[string]any{})
	actionID, _, err := s.CRVS.RequestAction(eventID, "REGISTER")
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	token, err := s.CRVS.Auth().RecordToken(opencrvs.RecordTokenOptions{EventID: eventID, ActionID: actionID,
		Generation: req.Generation, TTL: ttl})
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"eventId": eventID, "actionId": actionID, "token": token})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
