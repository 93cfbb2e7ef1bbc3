package tasks

import (
	"errors"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func TestTheLifecycleDecidesWhichMovesAreAllowedAndWhatTheyChange(t *testing.T) {
	leased := State{ID: "t1", Kind: "CMR", Plan: "S9925-001", Status: Leased, Priority: 50, Due: civil.Date{Year: 2024, Month: 3, Day: 1},
		Worker: "alice", Capacity: "week-cap", Version: "4"}
	scheduled := leased
	scheduled.Status, scheduled.Worker, scheduled.Capacity = Scheduled, "", ""
	later := civil.Date{Year: 2024, Month: 2, Day: 20}
	tests := []struct {
		name                  string
		st                    State
		from, to, worker      string
		giveBack              bool
		edit                  Edit
		refused               string
		wantTo                string
		endsLease, returnsCap bool
		prio                  int
		due                   civil.Date
	}{
		{name: "its worker releases a leased task and gives the capacity back", st: leased, from: Leased, to: Scheduled, worker: "alice", giveBack: true,
			wantTo: Scheduled, endsLease: true, returnsCap: true, prio: 50, due: leased.Due},
		{name: "another worker may not touch it", st: leased, from: Leased, to: Scheduled, worker: "bob", refused: "leased by another worker"},
		{name: "a completion ends the lease and keeps the capacity used", st: leased, from: Open, to: Completed, worker: "alice",
			wantTo: Completed, endsLease: true, prio: 50, due: leased.Due},
		{name: "the system completes whoever holds it", st: leased, from: Open, to: Completed, wantTo: Completed, endsLease: true, prio: 50, due: leased.Due},
		{name: "a status not among from is refused", st: scheduled, from: Leased, to: Scheduled, refused: "the task is SCHEDULED"},
		{name: "an upgrade keeps the status and raises priority and due date", st: scheduled, from: Open + "," + Expired,
			edit: Edit{Priority: 90, Due: later}, wantTo: Scheduled, prio: 90, due: later},
		{name: "a scheduled task has no lease to end", st: scheduled, from: Open, to: Cancelled, giveBack: true, wantTo: Cancelled, prio: 50, due: scheduled.Due},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.st.Move(tt.from, tt.to, tt.worker, tt.giveBack, tt.edit)
			if tt.refused != "" {
				var na NotAllowedError
				if !errors.As(err, &na) || na.Reason == "" || !strings.Contains(na.Reason, tt.refused) {
					t.Fatalf("Move = %v, want refused: %s", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.To != tt.wantTo || c.EndsLease != tt.endsLease || c.ReturnsCapacity != tt.returnsCap || c.Priority != tt.prio || c.Due != tt.due || c.From.Version != tt.st.Version {
				t.Fatalf("change %+v", c)
			}
		})
	}
}

func TestALeaseRespectsTheKindsAskedForAndTheWeeksCapacity(t *testing.T) {
	st := State{Kind: "TMR", Status: Scheduled}
	tests := []struct {
		name     string
		kinds    []string
		capacity map[string]int
		used     int64
		want     bool
	}{
		{"any kind, no capacity set", nil, nil, 1000, true},
		{"a kind not asked for", []string{"CMR"}, nil, 0, false},
		{"below the week's capacity", []string{"TMR"}, map[string]int{"TMR": 3}, 2, true},
		{"the week's capacity used up", nil, map[string]int{"TMR": 3}, 3, false},
		{"another kind's capacity does not count", nil, map[string]int{"CMR": 0}, 50, true},
	}
	for _, tt := range tests {
		if got := st.MayLease(tt.kinds, tt.capacity, tt.used); got != tt.want {
			t.Errorf("%s: MayLease = %v, want %v", tt.name, got, tt.want)
		}
	}
	if ReadyScore(90, civil.Date{Year: 2024, Month: 1, Day: 1}) <= ReadyScore(50, civil.Date{Year: 2023, Month: 1, Day: 1}) {
		t.Error("a higher priority does not come first")
	}
	if ReadyScore(50, civil.Date{Year: 2024, Month: 1, Day: 1}) <= ReadyScore(50, civil.Date{Year: 2024, Month: 1, Day: 2}) {
		t.Error("an earlier due date does not come first")
	}
}
