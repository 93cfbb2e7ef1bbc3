package enums_test

import (
	"testing"

	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
)

// FuzzParse: a name Parse accepts is a declared value whose name reads back to it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"CMR", "cmr", " TMR ", "TASK_KIND_CMR", "UNSPECIFIED", "", "XYZ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		k, ok := enums.Parse[schedulingv1.TaskKind](name)
		if !ok {
			if k != 0 {
				t.Fatalf("%q: %v without ok", name, k)
			}
			return
		}
		if _, declared := schedulingv1.TaskKind_name[int32(k)]; !declared {
			t.Fatalf("%q: undeclared %d", name, k)
		}
		if back := enums.Of[schedulingv1.TaskKind](enums.Name(k)); back != k {
			t.Fatalf("%q: %v named %q reads back as %v", name, k, enums.Name(k), back)
		}
	})
}
