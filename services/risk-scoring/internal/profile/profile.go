// Package profile is a beneficiary's medication profile: the active (not
// reversed) fills that risk scoring reads, and their compact stored form.
package profile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emtm/emtm/libs/civil"
)

// Fill is one paid pharmacy claim as the profile keeps it.
type Fill struct {
	ClaimID       string
	Date          civil.Date
	DaysSupply    int
	CostCents     int64
	PrescriberNPI string
	Ingredients   []string
}

// Profile is what risk scoring knows about one beneficiary.
type Profile struct {
	MemberID   string
	ContractID string
	PbpID      string
	BirthDate  civil.Date
	// Fills are the active fills, sorted by date, then claim id.
	Fills []Fill
	// Reversed counts claims that were reversed (their fills are gone).
	Reversed int
	// Fingerprint and Tier describe the last assessment emitted.
	Fingerprint string
	Tier        int
}

// Stored-form field names in the profile hash.
const (
	FillPrefix     = "c:" // c:<claim id> -> encoded fill
	ReversedPrefix = "x:" // x:<claim id> -> reversal seen
	FieldBirth     = "dob"
	FieldPlan      = "plan"
	FieldPrint     = "fp"
	FieldTier      = "tier"
)

// EncodeFill is "YYYYMMDD|days|cents|prescriber|ingredient;ingredient".
func EncodeFill(f Fill) string {
	return fmt.Sprintf("%04d%02d%02d|%d|%d|%s|%s", f.Date.Year, int(f.Date.Month), f.Date.Day,
		f.DaysSupply, f.CostCents, f.PrescriberNPI, strings.Join(f.Ingredients, ";"))
}

// DecodeFill reverses EncodeFill.
func DecodeFill(claimID, s string) (Fill, error) {
	parts := strings.SplitN(s, "|", 5)
	if len(parts) != 5 || len(parts[0]) != 8 {
		return Fill{}, fmt.Errorf("fill %s: malformed %q", claimID, s)
	}
	d, err := DecodeDate(parts[0])
	if err != nil {
		return Fill{}, fmt.Errorf("fill %s: %w", claimID, err)
	}
	days, err1 := strconv.Atoi(parts[1])
	cents, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return Fill{}, fmt.Errorf("fill %s: malformed numbers in %q", claimID, s)
	}
	var ings []string
	if parts[4] != "" {
		ings = strings.Split(parts[4], ";")
	}
	return Fill{ClaimID: claimID, Date: d, DaysSupply: days, CostCents: cents, PrescriberNPI: parts[3], Ingredients: ings}, nil
}

// EncodeDate is YYYYMMDD ("" for the zero date).
func EncodeDate(d civil.Date) string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d%02d%02d", d.Year, int(d.Month), d.Day)
}

// DecodeDate reverses EncodeDate.
func DecodeDate(s string) (civil.Date, error) {
	if len(s) != 8 {
		return civil.Date{}, fmt.Errorf("date %q: want YYYYMMDD", s)
	}
	y, e1 := strconv.Atoi(s[:4])
	m, e2 := strconv.Atoi(s[4:6])
	d, e3 := strconv.Atoi(s[6:])
	if e1 != nil || e2 != nil || e3 != nil {
		return civil.Date{}, fmt.Errorf("date %q: want YYYYMMDD", s)
	}
	return civil.Date{Year: y, Month: time.Month(m), Day: d}, nil
}

// FromHash decodes the stored profile hash.
func FromHash(memberID string, h map[string]string) (*Profile, error) {
	p := &Profile{MemberID: memberID}
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, FillPrefix):
			f, err := DecodeFill(k[len(FillPrefix):], v)
			if err != nil {
				return nil, err
			}
			p.Fills = append(p.Fills, f)
		case strings.HasPrefix(k, ReversedPrefix):
			p.Reversed++
		case k == FieldBirth:
			d, err := DecodeDate(v)
			if err != nil {
				return nil, fmt.Errorf("birth date: %w", err)
			}
			p.BirthDate = d
		case k == FieldPlan:
			p.ContractID, p.PbpID, _ = strings.Cut(v, "-")
		case k == FieldPrint:
			p.Fingerprint = v
		case k == FieldTier:
			p.Tier, _ = strconv.Atoi(v)
		}
	}
	sort.Slice(p.Fills, func(i, j int) bool {
		if c := p.Fills[i].Date.Compare(p.Fills[j].Date); c != 0 {
			return c < 0
		}
		return p.Fills[i].ClaimID < p.Fills[j].ClaimID
	})
	return p, nil
}

// AsOf is the latest date of service among the fills (zero when none).
func (p *Profile) AsOf() civil.Date {
	var latest civil.Date
	for _, f := range p.Fills {
		if f.Date.After(latest) {
			latest = f.Date
		}
	}
	return latest
}
