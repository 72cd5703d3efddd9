package notification

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	notificationv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/notification/v1"
	"github.com/mosipcrvs/bridge/services/notification/internal/inbox"
	"github.com/mosipcrvs/bridge/services/notification/internal/store"
)

// server adapts the Service to NotificationService.
type server struct {
	notificationv1.UnimplementedNotificationServiceServer
	s *Service
}

// Register adds NotificationService to srv and reports it serving.
func (s *Service) Register(srv *rpc.Server) {
	notificationv1.RegisterNotificationServiceServer(srv.Server, &server{s: s})
	srv.SetServing(notificationv1.NotificationService_ServiceDesc.ServiceName, true)
}

// HandleCallback verifies, parses and stores one delivery. No RSA and no
// call outside the database happen here: the hub gets its answer as soon
// as the event is durable.
func (g *server) HandleCallback(ctx context.Context, req *notificationv1.HandleCallbackRequest) (*notificationv1.HandleCallbackResponse, error) {
	body := req.GetBody()
	if len(body) > maxBody {
		return nil, status.Errorf(codes.InvalidArgument, "body over %d bytes", maxBody)
	}
	idx, err := inbox.VerifySignature(req.GetSignature(), body, g.s.secretKeys)
	if err != nil {
		g.s.metrics.callback(ctx, "bad_signature")
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	ev, err := inbox.Parse(body)
	switch {
	case err != nil:
		// Signed by the hub yet unreadable: keep it as a dead letter (the
		// job records why) and acknowledge, or the hub would retry it and
		// then stop delivering to us altogether.
		sum := sha256.Sum256(body)
		ev = inbox.Event{ID: "malformed-" + hex.EncodeToString(sum[:16]), Kind: inbox.KindStatus, Topic: g.s.secrets[idx].topics[0]}
		g.s.log.Warn("malformed delivery stored as a dead letter", slog.String("event_id", ev.ID), slog.String("err", err.Error()))
	case !slices.Contains(g.s.secrets[idx].topics, ev.Topic):
		// A secret only vouches for its own subscription's topic.
		g.s.metrics.callback(ctx, "wrong_topic")
		return nil, status.Error(codes.Unauthenticated, "the signature's secret does not belong to this event's topic")
	}
	dup, err := g.s.db.Receive(ctx, ev.ID, ev.Topic, string(ev.Kind), ev.RegistrationID, body)
	if err != nil {
		g.s.metrics.callback(ctx, "store_failed")
		g.s.log.Error("delivery not stored; the hub will redeliver", slog.String("event_id", ev.ID), slog.String("err", err.Error()))
		// The hub drops a subscriber after failed deliveries: renew soon.
		g.s.subs.NotifyDeliveryProblem(ev.Topic)
		return nil, status.Error(codes.Unavailable, "delivery not stored, retry later")
	}
	outcome := "stored"
	if dup {
		outcome = "duplicate"
	}
	g.s.metrics.callback(ctx, outcome)
	return &notificationv1.HandleCallbackResponse{EventId: ev.ID, Duplicate: dup, Acknowledgement: inbox.Ack(ev, "RECEIVED", g.s.now())}, nil
}

// VerifyIntent answers the hub's GET on the callback.
func (g *server) VerifyIntent(_ context.Context, req *notificationv1.VerifyIntentRequest) (*notificationv1.VerifyIntentResponse, error) {
	q, err := url.ParseQuery(req.GetRawQuery())
	if err != nil {
		return &notificationv1.VerifyIntentResponse{HttpStatus: 404, Body: "unknown subscription"}, nil
	}
	code, body := g.s.subs.VerifyIntent(req.GetPath(), q)
	return &notificationv1.VerifyIntentResponse{HttpStatus: int32(code), Body: body}, nil
}

// ListSubscriptions reports each subscription's state.
func (g *server) ListSubscriptions(context.Context, *notificationv1.ListSubscriptionsRequest) (*notificationv1.ListSubscriptionsResponse, error) {
	out := &notificationv1.ListSubscriptionsResponse{}
	for _, st := range g.s.subs.States() {
		sub := &notificationv1.Subscription{Name: st.Name, Topic: st.Topic, Callback: st.Callback, State: st.Status, LastError: st.LastError}
		if !st.VerifiedAt.IsZero() {
			sub.VerifiedAt = timestamppb.New(st.VerifiedAt)
		}
		if !st.NextRenewal.IsZero() {
			sub.NextRenewal = timestamppb.New(st.NextRenewal)
		}
		out.Subscriptions = append(out.Subscriptions, sub)
	}
	return out, nil
}

// ListDeliveries pages through the inbox.
func (g *server) ListDeliveries(ctx context.Context, req *notificationv1.ListDeliveriesRequest) (*notificationv1.ListDeliveriesResponse, error) {
	if st := req.GetState(); st != "" && !store.ValidState(st) {
		return nil, rpc.InvalidArgument("unknown state", map[string]string{"state": "one of received, done, ignored, dead, discarded"})
	}
	if req.GetPageSize() < 0 {
		return nil, rpc.InvalidArgument("negative page size", map[string]string{"page_size": "must be 0 to 500"})
	}
	page, err := g.s.db.List(ctx, req.GetState(), int(req.GetPageSize()), req.GetPageToken())
	if errors.Is(err, store.ErrBadToken) {
		return nil, rpc.InvalidArgument("invalid page token", map[string]string{"page_token": "use next_page_token of the previous page"})
	}
	if err != nil {
		return nil, status.Error(codes.Unavailable, "inbox unavailable")
	}
	out := &notificationv1.ListDeliveriesResponse{NextPageToken: page.Next}
	for _, d := range page.Deliveries {
		out.Deliveries = append(out.Deliveries, deliveryProto(d))
	}
	return out, nil
}

// ReplayDelivery queues a dead letter again.
func (g *server) ReplayDelivery(ctx context.Context, req *notificationv1.ReplayDeliveryRequest) (*notificationv1.ReplayDeliveryResponse, error) {
	d, err := g.s.db.Replay(ctx, req.GetEventId())
	if err != nil {
		return nil, operatorError(err)
	}
	g.s.log.Info("dead letter replayed", slog.String("event_id", d.EventID))
	return &notificationv1.ReplayDeliveryResponse{Delivery: deliveryProto(d)}, nil
}

// DiscardDelivery closes a dead letter.
func (g *server) DiscardDelivery(ctx context.Context, req *notificationv1.DiscardDeliveryRequest) (*notificationv1.DiscardDeliveryResponse, error) {
	if len(req.GetReason()) > 500 {
		return nil, rpc.InvalidArgument("reason too long", map[string]string{"reason": "at most 500 bytes"})
	}
	d, err := g.s.db.Discard(ctx, req.GetEventId(), req.GetReason())
	if err != nil {
		return nil, operatorError(err)
	}
	g.s.log.Info("dead letter discarded", slog.String("event_id", d.EventID))
	return &notificationv1.DiscardDeliveryResponse{Delivery: deliveryProto(d)}, nil
}

func operatorError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, "no delivery with this event id")
	case errors.Is(err, store.ErrState):
		return status.Error(codes.FailedPrecondition, err.Error())
	default:
		return status.Error(codes.Unavailable, "inbox unavailable")
	}
}

func deliveryProto(d store.Delivery) *notificationv1.Delivery {
	return &notificationv1.Delivery{
		EventId: d.EventID, Topic: d.Topic, Kind: d.Kind, State: d.State, RegistrationId: d.RegistrationID,
		TransactionId: d.TransactionID, Reason: d.Reason, Attempts: int32(d.Attempts),
		ReceivedAt: timestamppb.New(d.ReceivedAt), UpdatedAt: timestamppb.New(d.UpdatedAt),
	}
}
