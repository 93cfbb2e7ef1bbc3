package taskid

import (
	"slices"
	"strings"
	"testing"
)

// FuzzKind: the kind an id names is a task kind and one of its elements after the member.
func FuzzKind(f *testing.F) {
	for _, s := range []string{"task/M1/CMR/2024", "task/org/M1/TMR/2024-Q2", "task/M1/FOLLOW_UP/Eenc/1", "task//CMR/", "x/y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		k := Kind(id)
		if k == "" {
			return
		}
		parts := strings.Split(id, "/")
		if !IsKind(k) || parts[0] != "task" || len(parts) < 4 || !slices.Contains(parts[2:], k) {
			t.Fatalf("%q: kind %q", id, k)
		}
		// The member and the kind found are the id's own: rebuilt, they lead the id.
		if m := Member(id); id != "task/"+m+"/"+k && !strings.HasPrefix(id, "task/"+m+"/"+k+"/") {
			t.Fatalf("%q: member %q and kind %q do not lead it", id, m, k)
		}
	})
}
