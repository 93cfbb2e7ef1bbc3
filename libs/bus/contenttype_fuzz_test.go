package bus

import (
	"strings"
	"testing"
)

// FuzzMediaType: any header reads to a media type or an error, never both
// nor a panic; a JSON type it accepts has no parameter but charset=utf-8.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
		"application/protobuf", "application/x-protobuf", "text/csv", "application/json; charset=latin1", "/", "a/b; c=\"d\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		media, err := MediaType(header)
		if err != nil && media != "" {
			t.Fatalf("%q: media %q and error %v", header, media, err)
		}
		if err == nil && media != strings.ToLower(media) {
			t.Fatalf("%q: media type %q not lower case", header, media)
		}
		if media == ContentJSON && strings.Contains(strings.ToLower(header), "charset=") && !strings.Contains(strings.ToLower(header), "utf-8") {
			t.Fatalf("%q: accepted as JSON with another charset", header)
		}
	})
}
