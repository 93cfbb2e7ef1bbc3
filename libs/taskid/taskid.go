// Package taskid is the grammar of intervention task ids, in one place:
// "task/<member>/<KIND>/<period>", one task per beneficiary, kind and period
// (intervention-scheduling builds them; ingestion reads the kind of the task
// an encounter names, which travels on as the encounter's task_kind field).
package taskid

import (
	"strings"

	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
)

// ID is the task of a beneficiary, kind (its name without prefix: "CMR") and
// period ("2024", "2024-Q2", "D2024-03-01", ...).
func ID(member, kind, period string) string { return "task/" + member + "/" + kind + "/" + period }

// Kind is the kind an id names ("" when it names none). A member id may
// itself contain "/", so the kind is the first element after "task/<...>/"
// that is a task kind's name.
func Kind(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) < 4 || parts[0] != "task" {
		return ""
	}
	for _, p := range parts[2:] {
		if IsKind(p) {
			return p
		}
	}
	return ""
}

// IsKind says whether name is a task kind's name ("CMR"; not UNSPECIFIED).
func IsKind(name string) bool {
	k, ok := enums.Parse[schedulingv1.TaskKind](name)
	return ok && k != schedulingv1.TaskKind_TASK_KIND_UNSPECIFIED && enums.Name(k) == name
}

// Member is the beneficiary an id names ("" when it names none): what lies
// between "task/" and the kind Kind finds (a member id may contain "/", and
// so may a period: a follow-up's names its encounter).
func Member(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) < 4 || parts[0] != "task" {
		return ""
	}
	for i := 2; i < len(parts); i++ {
		if IsKind(parts[i]) {
			return strings.Join(parts[1:i], "/")
		}
	}
	return ""
}
