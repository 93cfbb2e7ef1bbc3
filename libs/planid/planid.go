// Package planid names a Medicare Part D plan: a contract (a letter and four
// digits: S for a stand-alone PDP, H or R for MA-PD, E for an employer plan)
// and a plan benefit package within it (three digits). Its text form,
// "S9925-001", is the key of policies, ledgers and task queues.
package planid

import (
	"fmt"
	"regexp"
	"strings"
)

// ID is a plan: contract and PBP.
type ID struct {
	Contract string
	PBP      string
}

// Of is the plan of an event or record that names its contract and PBP.
func Of(x interface {
	GetContractId() string
	GetPbpId() string
}) ID {
	return ID{Contract: x.GetContractId(), PBP: x.GetPbpId()}
}

// Key is the text form of a contract and PBP ("S9925-001").
func Key(contract, pbp string) string { return ID{Contract: contract, PBP: pbp}.String() }

// String is "S9925-001".
func (p ID) String() string { return p.Contract + "-" + p.PBP }

// Valid says whether the contract and PBP have their CMS forms.
func (p ID) Valid() bool {
	return ContractPattern.MatchString(p.Contract) && PBPPattern.MatchString(p.PBP)
}

var (
	// ContractPattern is a contract number: a letter and four digits.
	ContractPattern = regexp.MustCompile(`^[A-Z][0-9]{4}$`)
	// PBPPattern is a plan benefit package number: three digits.
	PBPPattern = regexp.MustCompile(`^[0-9]{3}$`)
)

// Parse reads "S9925-001" (surrounding spaces ignored, the contract's letter
// in either case).
func Parse(s string) (ID, error) {
	c, pbp, ok := strings.Cut(strings.TrimSpace(s), "-")
	p := ID{Contract: strings.ToUpper(c), PBP: pbp}
	if !ok || !p.Valid() {
		return ID{}, fmt.Errorf("plan %q: a plan is contract-pbp, a letter and four digits, then three digits (e.g. S9925-001)", s)
	}
	return p, nil
}

// Split reads a plan key that emtm wrote itself (String's form) into its
// contract and PBP, without validation (no "-": the whole key and "").
func Split(s string) (contract, pbp string) {
	contract, pbp, _ = strings.Cut(s, "-")
	return contract, pbp
}

// IsKey says whether s is a plan in exactly String's form (a policy file's key).
func IsKey(s string) bool {
	c, pbp := Split(s)
	p := ID{Contract: c, PBP: pbp}
	return p.Valid() && p.String() == s
}
