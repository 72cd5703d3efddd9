package gateway

import (
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/notification/v1"
)

// websubDelivery serves POST /websub/callback (and, through the edge's
// trailing-slash tolerance, /websub/callback/ where the Ballerina hub
// posts): the raw body and signature go to the notification service, which
// answers only once the event is stored. No OpenCRVS JWT: the HMAC
// authenticates the hub.
func (g *Gateway) websubDelivery(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	if len(r.Header.Values("X-Hub-Signature")) > 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Invalid X-Hub-Signature"})
		return
	}
	resp, err := g.clients.notification.HandleCallback(r.Context(), &notificationv1.HandleCallbackRequest{
		Body: body, Signature: r.Header.Get("X-Hub-Signature"), Path: r.URL.Path,
	})
	if status.Code(err) == codes.Unauthenticated {
		// mosip-api's answer to a bad signature.
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Invalid X-Hub-Signature"})
		return
	}
	if err != nil {
		g.writeRPCError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.GetAcknowledgement())
}

// websubIntent serves GET /websub/callback: the hub's intent verification,
// answered with the challenge (text/plain) for subscriptions we asked for,
// 404 otherwise.
func (g *Gateway) websubIntent(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	resp, err := g.clients.notification.VerifyIntent(r.Context(), &notificationv1.VerifyIntentRequest{
		Path: r.URL.Path, RawQuery: r.URL.RawQuery,
	})
	if err != nil {
		g.writeRPCError(w, r, err)
		return
	}
	code := int(resp.GetHttpStatus())
	if code < 200 || code > 599 {
		code = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(resp.GetBody()))
}
