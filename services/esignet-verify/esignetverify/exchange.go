package esignetverify

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/esignet"
)

// ExchangeAuthorizationCode exchanges the code and answers the verified
// person and the form data OpenCRVS reads.
func (s *server) ExchangeAuthorizationCode(ctx context.Context, req *esignetverifyv1.ExchangeAuthorizationCodeRequest) (*esignetverifyv1.ExchangeAuthorizationCodeResponse, error) {
	if s.svc.esignet == nil {
		return nil, notConfigured("eSignet sign-in", "ESIGNET_TOKEN_URL, ESIGNET_USERINFO_URL and OIDP_CLIENT_PRIVATE_KEY_PATH")
	}
	redirect, violations := s.svc.exchangeInput(req)
	if len(violations) > 0 {
		return nil, rpc.InvalidArgument("invalid authorization code exchange", violations)
	}
	start := time.Now()
	res, err := s.svc.esignet.Exchange(ctx, req.GetCode(), req.GetClientId(), redirect)
	elapsed := time.Since(start)
	if err != nil {
		st := s.esignetStatus(ctx, err)
		reason := exchangeFailure(err)
		s.svc.metrics.exchange(ctx, "error", reason, elapsed)
		s.svc.log.WarnContext(ctx, "eSignet code exchange failed", slog.String("reason", reason),
			slog.String("error", err.Error()), slog.Duration("duration", elapsed))
		return nil, st
	}
	p := s.svc.mapping.Person(res.Claims)
	form, err := structpb.NewStruct(s.svc.mapping.FormData(res.Claims, p))
	if err != nil {
		return nil, s.esignetStatus(ctx, err)
	}
	claims, err := structpb.NewStruct(res.Claims)
	if err != nil {
		return nil, s.esignetStatus(ctx, err)
	}
	s.svc.metrics.exchange(ctx, "verified", "", elapsed)
	s.svc.log.InfoContext(ctx, "eSignet sign-in verified", slog.String("verified_by", res.VerifiedBy),
		slog.Int("claims", len(res.Claims)), slog.Bool("individual_id", p.IndividualID != ""), slog.Duration("duration", elapsed))
	return &esignetverifyv1.ExchangeAuthorizationCodeResponse{
		Sub:          p.Sub,
		Name:         &esignetverifyv1.PersonName{FirstName: p.FirstName, MiddleName: p.MiddleName, Surname: p.Surname},
		Gender:       p.Gender,
		BirthDate:    p.BirthDate,
		IndividualId: p.IndividualID,
		Claims:       claims,
		FormData:     form,
		VerifiedBy:   res.VerifiedBy,
	}, nil
}

// exchangeInput validates req and returns the redirect URI to send:
// the configured static one, or the caller's without query and fragment
// (eSignet compares it with the authorize request's, which OpenCRVS sent
// as the page URL before eSignet appended code and state).
func (s *Service) exchangeInput(req *esignetverifyv1.ExchangeAuthorizationCodeRequest) (string, map[string]string) {
	v := map[string]string{}
	if p := tokenProblem(req.GetCode(), maxCodeLen); p != "" {
		v["code"] = p
	}
	if req.GetState() == "" {
		v["state"] = "is required"
	} else if p := textProblem(req.GetState(), maxStateLen); p != "" {
		v["state"] = p
	}
	if p := tokenProblem(req.GetClientId(), maxClientID); p != "" {
		v["client_id"] = p
	} else if s.clientID != "" && req.GetClientId() != s.clientID {
		v["client_id"] = "must be the OIDC client this bridge holds the key of (OPENID_PROVIDER_CLIENT_ID)"
	}
	redirect := s.redirectURI
	raw := req.GetRedirectUri()
	switch {
	case raw == "" && redirect == "":
		v["redirect_uri"] = "is required"
	case raw != "":
		u, p := parseRedirect(raw)
		if p != "" {
			v["redirect_uri"] = p
		} else if redirect == "" {
			redirect = u
		}
	}
	return redirect, v
}

// parseRedirect checks an absolute http(s) URL and drops its query and
// fragment.
func parseRedirect(raw string) (string, string) {
	if p := textProblem(raw, maxURLLen); p != "" {
		return "", p
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", "must be an absolute http(s) URL"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.String(), ""
}

// exchangeFailure names a failure for metrics and logs.
func exchangeFailure(err error) string {
	var (
		pe *esignet.ProviderError
		ue *esignet.UnavailableError
		ve *esignet.VerificationError
	)
	switch {
	case errors.As(err, &ve):
		return ve.Token + ":" + ve.Reason
	case errors.As(err, &pe):
		if pe.Code != "" {
			return pe.Endpoint + ":" + pe.Code
		}
		return pe.Endpoint + ":refused"
	case errors.As(err, &ue):
		return ue.Endpoint + ":unavailable"
	default:
		return "internal"
	}
}
