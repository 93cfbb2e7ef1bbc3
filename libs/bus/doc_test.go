package bus

import (
	"os"
	"strings"
	"testing"
)

const (
	architectureDoc = "../../docs/architecture.md"
	tableBegin      = "<!-- topology: generated from libs/bus (bin/emtmctl topology); do not edit by hand -->\n"
	tableEnd        = "<!-- end of topology -->"
)

// The document's tables are the declarations: a new topic or durable that is
// not in docs/architecture.md fails here, with the command that prints them.
func TestArchitectureDocumentShowsTheTopology(t *testing.T) {
	doc, err := os.ReadFile(architectureDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), tableBegin)
	table, _, ok2 := strings.Cut(rest, tableEnd)
	if !ok || !ok2 {
		t.Fatalf("%s has no generated topology between %q and %q", architectureDoc, strings.TrimSpace(tableBegin), tableEnd)
	}
	if want := TopologyMarkdown(); table != want {
		t.Fatalf("the topology in %s differs from libs/bus's declarations: replace it with the output of `bin/emtmctl topology`:\n%s", architectureDoc, want)
	}
}
