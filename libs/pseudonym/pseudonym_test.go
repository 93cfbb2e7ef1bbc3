package pseudonym

import (
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	a, _ := New("0123456789abcdef")
	b, _ := New("fedcba9876543210")
	id := "1EG4TE5MK73"
	if a.Of(id) != a.Of(id) {
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
