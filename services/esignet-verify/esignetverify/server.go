package esignetverify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mosipcrvs/bridge/pkg/mosip"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/esignet"
)

// server implements EsignetVerifyService. Errors become gRPC statuses
// here and only here.
type server struct {
	esignetverifyv1.UnimplementedEsignetVerifyServiceServer
	svc *Service
}

// Error domains of ErrorInfo details.
const (
	domainIDA     = "mosip.ida"
	domainESignet = "esignet"
)

// idaStatus maps an IDA failure that is not a verdict to a status whose
// text carries IDA's code and message (never the request).
func (s *server) idaStatus(ctx context.Context, err error) error {
	if st := contextStatus(ctx); st != nil {
		return st
	}
	var me *mosip.Error
	if !errors.As(err, &me) {
		s.svc.log.ErrorContext(ctx, "IDA verification failed", slog.String("error", err.Error()))
		return status.Error(codes.Internal, "internal error")
	}
	if me.Kind == mosip.KindTransport && errors.Is(me, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "MOSIP IDA did not answer in time")
	}
	if me.Temporary() {
		return status.Error(codes.Unavailable, "MOSIP IDA unavailable: "+me.Error())
	}
	st := status.New(codes.FailedPrecondition, "MOSIP IDA refused the request: "+me.Error())
	info := &errdetails.ErrorInfo{Reason: idaReason(me), Domain: domainIDA, Metadata: map[string]string{}}
	if me.Status != 0 {
		info.Metadata["http_status"] = strconv.Itoa(me.Status)
	}
	if me.Message != "" {
		info.Metadata["message"] = me.Message
	}
	return withDetails(st, info)
}

func idaReason(me *mosip.Error) string {
	switch {
	case me.Code != "":
		return me.Code
	case me.Kind == mosip.KindMalformed:
		return "MALFORMED_RESPONSE"
	case me.Kind == mosip.KindHTTP:
		return fmt.Sprintf("HTTP_%d", me.Status)
	default:
		return "REJECTED"
	}
}

// esignetStatus maps an eSignet failure: a refusal is FAILED_PRECONDITION
// with eSignet's OAuth error, a token that fails verification
// PERMISSION_DENIED with the reason, an unreachable eSignet UNAVAILABLE.
func (s *server) esignetStatus(ctx context.Context, err error) error {
	if st := contextStatus(ctx); st != nil {
		return st
	}
	var (
		pe *esignet.ProviderError
		ue *esignet.UnavailableError
		ve *esignet.VerificationError
	)
	switch {
	case errors.As(err, &ve):
		st := status.New(codes.PermissionDenied, "the eSignet "+ve.Token+" could not be verified: "+ve.Reason)
		return withDetails(st, &errdetails.ErrorInfo{Reason: ve.Reason, Domain: domainESignet,
			Metadata: map[string]string{"token": ve.Token, "detail": ve.Detail}})
	case errors.As(err, &pe):
		reason := pe.Code
		if reason == "" {
			reason = fmt.Sprintf("HTTP_%d", pe.Status)
		}
		st := status.New(codes.FailedPrecondition, pe.Error())
		md := map[string]string{"endpoint": pe.Endpoint, "http_status": strconv.Itoa(pe.Status)}
		if pe.Description != "" {
			md["description"] = pe.Description
		}
		return withDetails(st, &errdetails.ErrorInfo{Reason: reason, Domain: domainESignet, Metadata: md})
	case errors.As(err, &ue):
		if errors.Is(ue, context.DeadlineExceeded) {
			return status.Error(codes.DeadlineExceeded, "eSignet did not answer in time")
		}
		return status.Error(codes.Unavailable, ue.Error())
	default:
		s.svc.log.ErrorContext(ctx, "eSignet exchange failed", slog.String("error", err.Error()))
		return status.Error(codes.Internal, "internal error")
	}
}

// contextStatus is the status of a call whose own context ended.
func contextStatus(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return status.FromContextError(ctx.Err()).Err()
}

func withDetails(st *status.Status, info *errdetails.ErrorInfo) error {
	if d, err := st.WithDetails(info); err == nil {
		return d.Err()
	}
	return st.Err()
}

func notConfigured(feature, vars string) error {
	return status.Errorf(codes.FailedPrecondition, "%s is not configured on this bridge (set %s)", feature, vars)
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
