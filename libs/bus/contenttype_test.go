package bus

import "testing"

func TestMediaTypeReadsTheHeadersPharmacySystemsSend(t *testing.T) {
	tests := []struct {
		header, media string
		fails         bool
	}{
		{"", "", false},
		{"application/json", ContentJSON, false},
		{"application/json; charset=utf-8", ContentJSON, false},
		{"Application/JSON;charset=UTF-8", ContentJSON, false},
		{"application/protobuf", ContentProtobuf, false},
		{"application/x-protobuf", ContentProtobuf, false},
		{"text/csv", "text/csv", false}, // read; the caller refuses the type
		{"application/json; charset=latin1", "", true},
		{"application/protobuf; charset=utf-8", "", true},
		{"application/json; charset", "", true},
		{"/", "", true},
	}
	for _, tt := range tests {
		media, err := MediaType(tt.header)
		if (err != nil) != tt.fails || media != tt.media {
			t.Errorf("MediaType(%q) = %q, %v; want %q, fails %v", tt.header, media, err, tt.media, tt.fails)
		}
	}
}
