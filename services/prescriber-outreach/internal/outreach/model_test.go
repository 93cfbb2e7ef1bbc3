package outreach

import (
	"errors"
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/civil"
)

func day(m, d int) civil.Date {
	return civil.Date{Year: 2024, Month: 1, Day: 1}.AddDays((m-1)*31 + d - 1)
}

func TestTheRepeatWindowAndSupersessionDecideWhatRaisingAProblemDoes(t *testing.T) {
	pending := &Item{ID: "old", Status: Pending}
	sent := &Item{ID: "old", Status: Sent}
	tests := []struct {
		name       string
		standing   Standing
		on         civil.Date
		suppressed bool
		supersedes string
	}{
		{"a first raise", Standing{}, day(3, 1), false, ""},
		{"again inside the window: not raised", Standing{Item: sent, Until: day(6, 1)}, day(5, 31), true, ""},
		{"on the window's last day it is raised again", Standing{Item: sent, Until: day(6, 1)}, day(6, 1), false, ""},
		{"after the window, a standing item never sent is superseded", Standing{Item: pending, Until: day(6, 1)}, day(7, 1), false, "old"},
		{"inside the window even a pending item stands", Standing{Item: pending, Until: day(6, 1)}, day(4, 1), true, ""},
	}
	for _, tt := range tests {
		r := DecideRaise(tt.standing, tt.on)
		sup := ""
		if r.Supersedes != nil {
			sup = r.Supersedes.ID
		}
		if r.Suppressed != tt.suppressed || sup != tt.supersedes {
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
}

func TestAnAnswerIsRecordedOnceAndNeverOverAnotherOrBeforeTheRaise(t *testing.T) {
	tests := []struct {
		name    string
		it      Item
		to      string
		on      civil.Date
		same    bool
		refused string
	}{
		{"a sent item is answered", Item{Status: Sent, Created: day(2, 1)}, Accepted, day(2, 10), false, ""},
		{"a pending item may be answered (by an encounter)", Item{Status: Pending, Created: day(2, 1)}, Declined, day(2, 1), false, ""},
		{"the same answer again changes nothing", Item{Status: Accepted, Created: day(2, 1)}, Accepted, day(3, 1), true, ""},
		{"another answer is refused", Item{Status: Accepted, Created: day(2, 1), Responded: day(2, 5)}, Declined, day(3, 1), false, "already answered ACCEPTED on 2024-02-05"},
		{"a superseded item is refused, naming its successor", Item{Status: Superseded, SupersededBy: "new"}, Accepted, day(3, 1), false, "new superseded it"},
		{"an answer dated before the raise is refused", Item{Status: Sent, Created: day(2, 1)}, Accepted, day(1, 31), false, "before the problem was raised"},
	}
	for _, tt := range tests {
		a, same, err := tt.it.Respond(tt.to, tt.on, "", "", "")
		var na NotAllowedError
		switch {
		case tt.refused != "":
			if !errors.As(err, &na) || !strings.Contains(na.Reason, tt.refused) {
				t.Errorf("%s: %v, want refused: %s", tt.name, err, tt.refused)
			}
		case err != nil || same != tt.same:
			t.Errorf("%s: same %v, %v", tt.name, same, err)
		case !same && (a.To != tt.to || a.From.Status != tt.it.Status):
			t.Errorf("%s: answer %+v", tt.name, a)
		}
	}
	sentItem := Item{Status: Sent, Deadline: day(3, 1)}
	if sentItem.NoResponseBy(day(3, 1)) || !sentItem.NoResponseBy(day(3, 2)) || (Item{Status: Accepted, Deadline: day(1, 1)}).NoResponseBy(day(3, 2)) {
		t.Error("no response is a sent item after its deadline day")
	}
}
