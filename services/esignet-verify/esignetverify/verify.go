package esignetverify

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/pkg/rpc"
	esignetverifyv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/esignetverify/v1"
	"github.com/mosipcrvs/bridge/services/esignet-verify/internal/ida"
)

// VerifyIdentity checks the demographics against IDA. IDA's verdicts
// about the person (mismatch, unknown or deactivated id) are a FAILED
// result; anything that kept IDA from giving one is an error status.
func (s *server) VerifyIdentity(ctx context.Context, req *esignetverifyv1.VerifyIdentityRequest) (*esignetverifyv1.VerifyIdentityResponse, error) {
	if s.svc.ida == nil {
		return nil, notConfigured("IDA verification", "IDA_AUTH_URL and the PARTNER_* and key settings")
	}
	d, violations := s.svc.demographics(req, time.Now())
	if len(violations) > 0 {
		return nil, rpc.InvalidArgument("invalid verification request", violations)
	}
	start := time.Now()
	out, err := s.svc.ida.Authenticate(ctx, d)
	elapsed := time.Since(start)
	corr := logSafe(req.GetTransactionId())
	if err != nil {
		st := s.idaStatus(ctx, err)
		s.svc.metrics.verification(ctx, "error", errorCode(err), elapsed)
		// The caller's correlation id and MOSIP's code tell support what
		// happened; the person's data never reaches the log.
		s.svc.log.WarnContext(ctx, "IDA gave no verdict", slog.String("transaction_id", corr),
			slog.String("error", err.Error()), slog.Duration("duration", elapsed))
		return nil, st
	}
	resp := &esignetverifyv1.VerifyIdentityResponse{IdaTransactionId: out.TransactionID}
	result, reason := "verified", ""
	if out.Verified {
		resp.Result = esignetverifyv1.VerificationResult_VERIFICATION_RESULT_VERIFIED
	} else {
		resp.Result = esignetverifyv1.VerificationResult_VERIFICATION_RESULT_FAILED
		resp.FailureReason = failureReasons[out.Reason]
		result, reason = "failed", out.Reason
	}
	for _, a := range []string{ida.AttrName, ida.AttrDOB, ida.AttrGender} {
		st, sent := out.Matches[a]
		if !sent {
			continue
		}
		resp.Attributes = append(resp.Attributes, &esignetverifyv1.AttributeMatch{Attribute: attributes[a], Status: matchStatuses[st]})
	}
	codes := make([]string, 0, len(out.Errors))
	for _, e := range out.Errors {
		resp.Errors = append(resp.Errors, &esignetverifyv1.MosipError{Code: e.Code, Message: e.Message, ActionMessage: e.Action})
		codes = append(codes, e.Code)
	}
	s.svc.metrics.verification(ctx, result, reason, elapsed)
	s.svc.log.InfoContext(ctx, "identity verification", slog.String("result", result), slog.String("reason", reason),
		slog.String("ida_transaction_id", out.TransactionID), slog.String("transaction_id", corr),
		slog.String("ida_errors", strings.Join(codes, ",")), slog.Duration("duration", elapsed))
	return resp, nil
}

// demographics validates req, naming every field that is wrong at once.
func (s *Service) demographics(req *esignetverifyv1.VerifyIdentityRequest, now time.Time) (ida.Demographics, map[string]string) {
	v := map[string]string{}
	d := ida.Demographics{IndividualID: req.GetIndividualId()}
	if p := idProblem(d.IndividualID); p != "" {
		v["individual_id"] = p
	}
	switch req.GetIndividualIdType() {
	case esignetverifyv1.IndividualIdType_INDIVIDUAL_ID_TYPE_UNSPECIFIED:
		d.IDType = s.idaIDType
	case esignetverifyv1.IndividualIdType_INDIVIDUAL_ID_TYPE_UIN:
		d.IDType = "UIN"
	case esignetverifyv1.IndividualIdType_INDIVIDUAL_ID_TYPE_VID:
		d.IDType = "VID"
	default:
		v["individual_id_type"] = "must be UIN or VID"
	}
	dob, p := parseBirthDate(req.GetDateOfBirth(), now)
	if p != "" {
		v["date_of_birth"] = p
	}
	d.DOB = dob
	n := req.GetName()
	d.FirstName, d.MiddleName, d.Surname = strings.TrimSpace(n.GetFirstName()), strings.TrimSpace(n.GetMiddleName()), strings.TrimSpace(n.GetSurname())
	for field, val := range map[string]string{"name.first_name": d.FirstName, "name.middle_name": d.MiddleName, "name.surname": d.Surname} {
		if p := textProblem(val, maxNameLen); p != "" {
			v[field] = p
		}
	}
	if d.FirstName == "" && d.Surname == "" {
		v["name"] = "is required: first_name or surname must be set"
	}
	d.Gender = strings.TrimSpace(req.GetGender())
	if p := textProblem(d.Gender, maxGenderLen); p != "" {
		v["gender"] = p
	}
	if p := textProblem(req.GetTransactionId(), maxCorrIDLen); p != "" {
		v["transaction_id"] = p
	}
	return d, v
}

var (
	failureReasons = map[string]esignetverifyv1.FailureReason{
		ida.ReasonMismatch:         esignetverifyv1.FailureReason_FAILURE_REASON_DEMOGRAPHIC_MISMATCH,
		ida.ReasonNotFound:         esignetverifyv1.FailureReason_FAILURE_REASON_IDENTITY_NOT_FOUND,
		ida.ReasonInactive:         esignetverifyv1.FailureReason_FAILURE_REASON_IDENTITY_INACTIVE,
		ida.ReasonNotAuthenticated: esignetverifyv1.FailureReason_FAILURE_REASON_NOT_AUTHENTICATED,
	}
	attributes = map[string]esignetverifyv1.Attribute{
		ida.AttrName:   esignetverifyv1.Attribute_ATTRIBUTE_NAME,
		ida.AttrDOB:    esignetverifyv1.Attribute_ATTRIBUTE_DATE_OF_BIRTH,
		ida.AttrGender: esignetverifyv1.Attribute_ATTRIBUTE_GENDER,
	}
	matchStatuses = map[string]esignetverifyv1.MatchStatus{
		ida.MatchUnknown:      esignetverifyv1.MatchStatus_MATCH_STATUS_UNSPECIFIED,
		ida.MatchMatched:      esignetverifyv1.MatchStatus_MATCH_STATUS_MATCHED,
		ida.MatchMismatched:   esignetverifyv1.MatchStatus_MATCH_STATUS_MISMATCHED,
		ida.MatchNotAvailable: esignetverifyv1.MatchStatus_MATCH_STATUS_NOT_AVAILABLE,
	}
)

// logSafe bounds a caller-supplied correlation id for the log; it is not
// personal data (OpenCRVS sends "<role>-<uuid>"), but it is caller input.
func logSafe(s string) string {
	if textProblem(s, maxCorrIDLen) != "" {
		return "[invalid]"
	}
	return s
}
