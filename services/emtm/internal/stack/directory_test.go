package stack

import (
	"testing"

	"github.com/emtm/emtm/libs/directory"
)

// emtmctl finds the services by libs/directory, without linking them: the
// directory names the five the stack starts, in the same order.
func TestTheDirectoryNamesTheServicesTheStackStarts(t *testing.T) {
	if len(Services) != len(directory.All) {
		t.Fatalf("the stack starts %d services, the directory names %d", len(Services), len(directory.All))
	}
	for i, d := range Services {
		if d.ServiceName() != directory.All[i].Name {
			t.Errorf("service %d is %s, the directory says %s", i, d.ServiceName(), directory.All[i].Name)
		}
	}
}
