package pseudonym

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	a, _ := New("0123456789abcdef")
	b, _ := New("fedcba9876543210")
	id := "1EG4TE5MK73"
	if first, again := a.Of(id), a.Of(id); first != again {
		t.Fatal("not stable")
	}
	if a.Of(id) == b.Of(id) {
		t.Fatal("key does not change the hash")
	}
	if strings.Contains(a.Of(id), id) || len(a.Of(id)) != 18 {
		t.Fatalf("unexpected form %q", a.Of(id))
	}
	if _, err := New("short"); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestAKeyIsGeneratedOncePerDirectoryAndKeptPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "telemetry-hash.key")
	k1, created, err := LoadOrCreateKey(path)
	if err != nil || !created || len(k1) != 64 || IsPublic(k1) {
		t.Fatalf("first use: %q %v %v", k1, created, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreateKey(path)
	if err != nil || created || k2 != k1 {
		t.Fatalf("second use: %q %v %v, want the same key", k2, created, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key file: %v", err)
	}
	if !IsPublic(DevelopmentKey) {
		t.Fatal("the development key is not known to be public")
	}
}

// The span of a beneficiary's event carries the pseudonym, never the id; a
// missing hasher tags nothing and does not fail.
func TestTagPutsThePseudonymOnTheSpanAndANilHasherNothing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	h, _ := New("0123456789abcdef")
	ctx, span := tp.Tracer("test").Start(context.Background(), "event")
	h.Tag(ctx, "1EG4TE5MK73", attribute.Int("emtm.extra", 2))
	var none *Hasher
	none.Tag(ctx, "1EG4TE5MK73")
	span.End()
	got := map[string]string{}
	for _, kv := range rec.Ended()[0].Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	if got[SpanAttribute] != h.Of("1EG4TE5MK73") || got["emtm.extra"] != "2" || len(got) != 2 {
		t.Fatalf("span attributes %v", got)
	}
}
