package bus

import (
	"fmt"
	"mime"
	"strings"
)

// MediaType reads a submission's Content-Type header (RFC 9110 section
// 8.3: a case-insensitive type with optional parameters) and returns its
// media type: "" when there is no header (protobuf is assumed),
// ContentJSON, ContentProtobuf or another type, which the caller refuses.
// JSON may say charset=utf-8, the only charset JSON has (RFC 8259 section
// 8.1); any other parameter is an error.
func MediaType(contentType string) (string, error) {
	if strings.TrimSpace(contentType) == "" {
		return "", nil
	}
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("Content-Type %q cannot be read (%v); use application/json or application/protobuf", contentType, err)
	}
	if media == "application/x-protobuf" {
		media = ContentProtobuf
	}
	for k, v := range params {
		if (media == ContentJSON || media == ContentFHIRJSON) && k == "charset" && strings.EqualFold(v, "utf-8") {
			continue
		}
		return "", fmt.Errorf("Content-Type %q: parameter %s=%s is not supported (JSON is UTF-8: charset=utf-8 or none)", contentType, k, v)
	}
	return media, nil
}
