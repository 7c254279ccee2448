package apitypes

// Error is the body of every error answer of the REST API (4xx and 5xx, Content-Type
// application/json).
type Error struct {
	// Error says what went wrong, in the answer's language (Content-Language: en or ja; see
	// the webhook's README, "Languages"). It is for people: match Code, not this text.
	Error string `json:"error"`
	// Code names the error, the same in every language and stable across releases (Code*).
	Code string `json:"code"`
}

// Codes of Error.
const (
	// CodeUnauthorized (401): no credential, or a wrong or expired one.
	CodeUnauthorized = "unauthorized"
	// CodeThrottled (429): too many failed authentications from the address (Retry-After).
	CodeThrottled = "throttled"
	// CodeCSRF (403): a change made with the page's session cookie without its CSRF token or
	// from another origin.
	CodeCSRF = "csrf"
	// CodeIngestOnly (403): a tenant's Alertmanager credential, which only posts alerts.
	CodeIngestOnly = "ingest_only"
	// CodeReadOnly (403): a role that only reads (a customer viewer, an API token of role read)
	// tried a change.
	CodeReadOnly = "read_only"
	// CodeForbidden (403): the credential may not do or read this (operators' things, another
	// assignment group's incidents).
	CodeForbidden = "forbidden"
	// CodeBadRequest (400): a malformed request (a parameter, an id, a JSON body).
	CodeBadRequest = "bad_request"
	// CodeInvalid (400): a request the service desk's rules refuse (a required text missing, an
	// unknown close code, a value out of range).
	CodeInvalid = "invalid"
	// CodeTransition (409): the incident's state does not allow the action (acknowledge a
	// resolved incident, resume one not on hold).
	CodeTransition = "transition_not_allowed"
	// CodeConflict (409): the record changed meanwhile, exists already, or is not in the state
	// the request needs: read it again.
	CodeConflict = "conflict"
	// CodeNotFound (404): no such record, or not one the credential may see.
	CodeNotFound = "not_found"
	// CodeNotImplemented (501): the store does not keep this kind of record.
	CodeNotImplemented = "not_implemented"
	// CodeUnavailable (503): the store or the credentials' check failed; retry (the message
	// carries a request id to find the log line).
	CodeUnavailable = "unavailable"
	// CodeInternal (500): the server failed to build the answer (see the log).
	CodeInternal = "internal"
)

// ErrorCodes are the codes of Error, for documentation and tests.
var ErrorCodes = []string{CodeUnauthorized, CodeThrottled, CodeCSRF, CodeIngestOnly, CodeReadOnly, CodeForbidden, CodeBadRequest,
	CodeInvalid, CodeTransition, CodeConflict, CodeNotFound, CodeNotImplemented, CodeUnavailable, CodeInternal}
