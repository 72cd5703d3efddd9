package mosip

// WebSub topics the sandbox MOSIP publishes on.
const (
	// TopicWorkflowCompleted is the general packet-status topic; every
	// subscriber receives every registration's outcome.
	TopicWorkflowCompleted = "REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT"
	// TopicCredentialStatusUpdate is what a partner publishes to acknowledge a credential.
	TopicCredentialStatusUpdate = "CREDENTIAL_STATUS_UPDATE"
	// CredentialIssuedEvent is the event name of the per-partner credential
	// topic "<partnerId>/CREDENTIAL_ISSUED".
	CredentialIssuedEvent = "CREDENTIAL_ISSUED"
)

// CredentialTopic is the topic a partner's credentials are published on.
func CredentialTopic(partnerID string) string { return partnerID + "/" + CredentialIssuedEvent }

// Publisher publishes content to a WebSub topic; the sandbox hub implements it.
type Publisher interface {
	// Publish queues body (JSON) for every subscriber of topic.
	Publish(topic string, body []byte) error
}

// CredentialIssuer builds the CREDENTIAL_ISSUED event body (the JSON the
// credential service publishes) for a new or updated identity created by
// the packet registrationID.
type CredentialIssuer interface {
	IssueCredential(id Identity, registrationID string) (event []byte, err error)
}

// WorkflowCompleted is the REGISTRATION_PROCESSOR_WORKFLOW_COMPLETED_EVENT body.
type WorkflowCompleted struct {
	InstanceID   string  `json:"instanceId"`
	ResultCode   string  `json:"resultCode"` // PROCESSED, FAILED, REJECTED
	WorkflowType string  `json:"workflowType"`
	ErrorCode    *string `json:"errorCode"` // PACKET_FAILED, PACKET_REJECTED or null
}
