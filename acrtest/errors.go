package acrtest

import (
	"encoding/json"
	"net/http"
)

// Error codes ACR puts in the errors[].code field of failed responses.
const (
	CodeUnauthorized        = "UNAUTHORIZED"
	CodeDenied              = "DENIED"
	CodeNameUnknown         = "NAME_UNKNOWN"
	CodeNameInvalid         = "NAME_INVALID"
	CodeManifestUnknown     = "MANIFEST_UNKNOWN"
	CodeManifestInvalid     = "MANIFEST_INVALID"
	CodeManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
	CodeTagUnknown          = "TAG_UNKNOWN"
	CodeTagInvalid          = "TAG_INVALID"
	CodeDigestInvalid       = "DIGEST_INVALID"
	CodeBlobUnknown         = "BLOB_UNKNOWN"
	CodeBlobUploadUnknown   = "BLOB_UPLOAD_UNKNOWN"
	CodeBlobUploadInvalid   = "BLOB_UPLOAD_INVALID"
	CodeSizeInvalid         = "SIZE_INVALID"
	CodeUnsupported         = "UNSUPPORTED"
	CodeTooManyRequests     = "TOOMANYREQUESTS"
	CodeUnknown             = "UNKNOWN"
)

// Detail shapes. ACR's errors[].detail has no fixed type: pass one of
// these, or any value to marshal (an array, an object or a string).
var (
	// NoDetail omits the detail field (NAME_UNKNOWN, TAG_UNKNOWN, UNSUPPORTED).
	NoDetail = json.RawMessage(nil)
	// NullDetail sends "detail":null (the unscoped /v2/ challenge).
	NullDetail = json.RawMessage("null")
)

type errorBody struct {
	Errors []errorInfo `json:"errors"`
}

type errorInfo struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// writeError writes ACR's {"errors":[{"code","message","detail"}]} body.
// detail is NoDetail, NullDetail, a json.RawMessage, or a value to marshal.
func writeError(w http.ResponseWriter, status int, code, message string, detail any) {
	info := errorInfo{Code: code, Message: message}
	switch d := detail.(type) {
	case nil:
	case json.RawMessage:
		info.Detail = d
	default:
		b, err := json.Marshal(d)
		if err == nil {
			info.Detail = b
		}
	}
	body, _ := json.Marshal(errorBody{Errors: []errorInfo{info}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSON writes a 2xx JSON body with ACR's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeUnknown, err.Error(), NoDetail)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
