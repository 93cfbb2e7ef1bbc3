package outreach

import (
	"errors"
	"fmt"

	"github.com/emtm/emtm/libs/civil"
)

// Statuses as stored.
const (
	Pending    = "PENDING"
	Sent       = "SENT"
	Accepted   = "ACCEPTED"
	Declined   = "DECLINED"
	NoResponse = "NO_RESPONSE"
	Superseded = "SUPERSEDED"
)

// CreateResult says what Create did.
type CreateResult int

// What Create did.
const (
	NotRaised CreateResult = iota // still open with the prescriber, or within the repeat window
	Created
	Exists
)

// ErrNotFound: no outreach item has the id.
var ErrNotFound = errors.New("no such item")

// NotAllowedError is a change the item's state does not allow.
type NotAllowedError struct{ Reason string }

func (e NotAllowedError) Error() string { return e.Reason }

// ErrConflict is a change whose items moved on between the read it was
// decided on and its write: nothing was written; read and decide again.
var ErrConflict = errors.New("an outreach item changed since it was read")

// Counts are the counters behind GetOutreachCounts and GetOutreachStats.
type Counts struct {
	Items, Comms, Suppressed, Unmatched int64
	ByProblem                           map[string]int64
	ByNPI, ByCode                       map[string]map[string]int64
}

// Item is an outreach item's state as stored: what the rules decide on.
type Item struct {
	ID, NPI, Member, ProblemKey, Code, Plan string
	Status                                  string
	Created, Deadline, Responded            civil.Date
	SupersededBy                            string
	// Version counts the changes; a change decided on it is written only while it holds.
	Version string
}

// Standing is the latest item raised for one problem of one patient with one
// prescriber, and the end of its repeat window.
type Standing struct {
	Item  *Item
	Until civil.Date
}

// Raise is what raising a problem on a date does (DecideRaise).
type Raise struct {
	// Suppressed: not raised, the standing item stands for the problem.
	Suppressed bool
	// Supersedes is the standing item, still pending, that the new one replaces (nil: none).
	Supersedes *Item
}

// DecideRaise applies the repeat window and supersession: a problem raised
// again before the standing item's window ends is not raised (a rule on dates
// only, so a replay decides as live operation did); otherwise a standing item
// still pending (never sent) is superseded by the new one.
func DecideRaise(standing Standing, created civil.Date) Raise {
	if standing.Item == nil {
		return Raise{}
	}
	if created.Before(standing.Until) {
		return Raise{Suppressed: true}
	}
	if standing.Item.Status == Pending {
		return Raise{Supersedes: standing.Item}
	}
	return Raise{}
}

// Answer is a decided response to an item.
type Answer struct {
	From               Item
	To                 string
	On                 civil.Date
	Note, By, Pharmacy string
}

// Respond decides a prescriber's answer (ACCEPTED or DECLINED) on a date:
// the same answer again changes nothing (same); an item already answered
// otherwise, or superseded (never sent), may not be answered; nor may a date
// before the problem was raised.
func (it Item) Respond(to string, on civil.Date, note, by, pharmacy string) (a Answer, same bool, err error) {
	switch {
	case it.Status == to:
		return Answer{}, true, nil
	case it.Status == Accepted || it.Status == Declined:
		return Answer{}, false, NotAllowedError{Reason: fmt.Sprintf("the item was already answered %s on %s", it.Status, it.Responded)}
	case it.Status == Superseded:
		return Answer{}, false, NotAllowedError{Reason: fmt.Sprintf("the item was never sent: %s superseded it; answer that one", it.SupersededBy)}
	case on.Before(it.Created):
		return Answer{}, false, NotAllowedError{Reason: "responded_on is before the problem was raised"}
	}
	return Answer{From: it, To: to, On: on, Note: note, By: by, Pharmacy: pharmacy}, false, nil
}

// NoResponseBy reports whether a sent item's response deadline passed before today.
func (it Item) NoResponseBy(today civil.Date) bool {
	return it.Status == Sent && it.Deadline.Before(today)
}
