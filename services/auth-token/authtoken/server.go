package authtoken

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mosipcrvs/bridge/pkg/mosip"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/authmanager"
	"github.com/mosipcrvs/bridge/services/auth-token/internal/tokencache"
)

// server implements AuthTokenService on top of the cache. Errors become
// gRPC statuses here and only here.
type server struct {
	authtokenv1.UnimplementedAuthTokenServiceServer
	svc *Service
}

func (s *server) GetToken(ctx context.Context, req *authtokenv1.GetTokenRequest) (*authtokenv1.GetTokenResponse, error) {
	if req.GetClient() == "" {
		return nil, rpc.InvalidArgument("client is required", map[string]string{"client": s.clientHint()})
	}
	tok, err := s.svc.cache.Get(ctx, req.GetClient())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &authtokenv1.GetTokenResponse{Token: tok.Value, ExpiresAt: timestamppb.New(tok.ExpiresAt)}, nil
}

func (s *server) InvalidateToken(ctx context.Context, req *authtokenv1.InvalidateTokenRequest) (*authtokenv1.InvalidateTokenResponse, error) {
	violations := map[string]string{}
	if req.GetClient() == "" {
		violations["client"] = s.clientHint()
	}
	if req.GetToken() == "" {
		violations["token"] = "must be the token MOSIP rejected"
	}
	if len(violations) > 0 {
		return nil, rpc.InvalidArgument("client and token are required", violations)
	}
	ok, err := s.svc.cache.Invalidate(ctx, req.GetClient(), req.GetToken())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &authtokenv1.InvalidateTokenResponse{Invalidated: ok}, nil
}

func (s *server) ListClientStates(context.Context, *authtokenv1.ListClientStatesRequest) (*authtokenv1.ListClientStatesResponse, error) {
	states := s.svc.cache.States()
	out := &authtokenv1.ListClientStatesResponse{Clients: make([]*authtokenv1.ClientState, 0, len(states))}
	for _, st := range states {
		out.Clients = append(out.Clients, &authtokenv1.ClientState{
			Client:             st.Client,
			MosipClientId:      st.ClientID,
			AppId:              st.AppID,
			HasToken:           st.HasToken,
			AcquiredAt:         timestamp(st.AcquiredAt),
			ExpiresAt:          timestamp(st.ExpiresAt),
			CacheHits:          st.Hits,
			CacheMisses:        st.Misses,
			AuthManagerCalls:   st.AuthCalls,
			LastRefreshError:   st.LastError,
			LastRefreshErrorAt: timestamp(st.LastErrorAt),
			Source:             st.Source,
		})
	}
	return out, nil
}

func (s *server) clientHint() string {
	return "must name a configured client: " + strings.Join(s.svc.cache.Clients(), ", ")
}

// timestamp leaves unknown times unset rather than sending the zero time.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// status maps an error from the cache to a gRPC status. None of the texts
// it uses can hold a token or secret: MOSIP errors carry only MOSIP's code
// and message, scrubbed of the secret by the auth manager client.
func (s *server) status(ctx context.Context, err error) error {
	var unknown *tokencache.UnknownClientError
	if errors.As(err, &unknown) {
		return status.Error(codes.NotFound, unknown.Error())
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	var me *mosip.Error
	if !errors.As(err, &me) {
		s.svc.log.ErrorContext(ctx, "token request failed", slog.String("error", err.Error()))
		return status.Error(codes.Internal, "internal error")
	}
	if me.Temporary() {
		return status.Error(codes.Unavailable, "MOSIP auth manager unavailable: "+err.Error())
	}
	st := status.New(codes.FailedPrecondition, "MOSIP auth manager refused the request: "+err.Error())
	info := &errdetails.ErrorInfo{Reason: reason(me), Domain: "mosip", Metadata: map[string]string{}}
	if me.Status != 0 {
		info.Metadata["http_status"] = strconv.Itoa(me.Status)
	}
	if me.Message != "" {
		info.Metadata["message"] = me.Message
	}
	if withDetails, derr := st.WithDetails(info); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// reason is MOSIP's error code, or a stable name for failures MOSIP did
// not code, so callers can switch on ErrorInfo.Reason alone.
func reason(me *mosip.Error) string {
	switch {
	case me.Code != "":
		return me.Code
	case errors.Is(me, authmanager.ErrNoToken):
		return "NO_TOKEN_IN_RESPONSE"
	case errors.Is(me, authmanager.ErrExpired):
		return "TOKEN_ALREADY_EXPIRED"
	case errors.Is(me, mosip.ErrNoResponse):
		return "NULL_RESPONSE"
	case errors.Is(me, mosip.ErrMalformed):
		return "MALFORMED_RESPONSE"
	case me.Kind == mosip.KindHTTP:
		return fmt.Sprintf("HTTP_%d", me.Status)
	default:
		return "REJECTED"
	}
}
