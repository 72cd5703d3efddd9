package gateway

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	packetv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/packet/v1"
)

// The debug routes keep the support workflow of the TypeScript mosip-api:
// list the records waiting for MOSIP and drop one that is stuck so that
// OpenCRVS can be told by hand. Unlike mosip-api they never return the
// stored OpenCRVS token.

const forbiddenBody = `{"error":"You do not have permission to access this resource."}`

// debugTransaction is one row of GET /debug/transactions, in mosip-api's shape.
type debugTransaction struct {
	EventID            string `json:"eventId"`
	ActionID           string `json:"actionId"`
	ID                 string `json:"id"`
	RegistrationNumber string `json:"registration_number"`
	CreatedAt          string `json:"created_at"`
	// Status is the bridge's step, which mosip-api did not have.
	Status string `json:"status"`
}

// debugPageSize bounds the list, as mosip-api's table was bounded by what
// was pending; the /v1/transactions route pages through everything.
const debugPageSize = 500

// listDebugTransactions serves GET /debug/transactions: OpenCRVS 1.9 needs
// both search.birth and search.death, 2.0 record.search.
func (g *Gateway) listDebugTransactions(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	c, _ := ClaimsFromContext(r.Context())
	if !c.HasScope("record.search") && !(c.HasScope("search.birth") && c.HasScope("search.death")) {
		writeRaw(w, http.StatusForbidden, forbiddenBody)
		return
	}
	resp, err := g.clients.packet.ListTransactions(r.Context(), &packetv1.ListTransactionsRequest{PageSize: debugPageSize})
	if err != nil {
		g.writeRPCError(w, r, err)
		return
	}
	out := []debugTransaction{}
	for _, t := range resp.GetTransactions() {
		switch t.GetStatus() {
		case "confirmed", "rejected", "failed", "cancelled":
			continue // mosip-api's table held only what still waited
		}
		out = append(out, debugTransaction{EventID: t.GetEventId(), ActionID: t.GetActionId(), ID: t.GetTransactionId(),
			RegistrationNumber: t.GetRegistrationNumber(), Status: t.GetStatus(),
			CreatedAt: t.GetCreatedAt().AsTime().UTC().Format("2006-01-02 15:04:05")})
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteDebugTransaction serves DELETE /debug/transactions/{id}: the
// reject scope of OpenCRVS 1.9/2.0 (or record.register, which the 2.1
// documentation names) lets support drop a stuck record.
func (g *Gateway) deleteDebugTransaction(w http.ResponseWriter, r *http.Request, params map[string]string) {
	c, _ := ClaimsFromContext(r.Context())
	if !c.HasScope("record.reject-registration") && !c.HasScope("record.register") {
		writeRaw(w, http.StatusForbidden, forbiddenBody)
		return
	}
	id := params["id"]
	resp, err := g.clients.packet.CancelTransaction(r.Context(), &packetv1.CancelTransactionRequest{TransactionId: id})
	if status.Code(err) == codes.NotFound {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("Transaction with id '%s' not found.", id)})
		return
	}
	if err != nil {
		g.writeRPCError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"registrationNumber": resp.GetRegistrationNumber()})
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
