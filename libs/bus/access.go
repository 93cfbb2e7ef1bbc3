package bus

import (
	"fmt"
	"slices"
	"strings"
)

// Least privilege on the bus. Each service connects as its own NATS user and
// may publish only the events it produces, pull only from its own durable
// consumers and read only the streams it consumes. A pharmacy may publish only
// under emtm.raw.pharmacy.<its NPI>. Streams are created by the admin user
// (bin/emtmctl streams ensure, or any unrestricted connection); a service
// checks that they exist as specified and never changes or deletes them.
//
// NATS subject wildcards match whole tokens, so "any consumer on this stream
// but the others' durables" is an allow of the stream's tokens plus a deny of
// every other service's durables (deny wins).

// Grant is what one service may do on the bus.
type Grant struct {
	// User is the NATS user: the service's name.
	User string
	// Publish lists the topics of the events it produces. A "{service}"
	// variable is the service itself (it audits only as itself).
	Publish []TopicSpec
	// Durables are its durable consumers.
	Durables []Durable
	// Reads are the streams it consumes, replays or reads single messages from.
	Reads []string
}

// Grants lists every service's access. Services create their durable
// consumers from it (app.Runtime.ConsumeGranted), so the permissions and the
// consumers cannot drift apart; TestDurablesAreGranted (stack) checks that a
// running stack creates exactly these.
var Grants = []Grant{
	{
		User: "ingestion",
		Publish: []TopicSpec{RawAPI.TopicSpec, RawResubmit.TopicSpec, Rejection.TopicSpec, ClaimPaid.TopicSpec, ClaimReversed.TopicSpec,
			Encounter.TopicSpec, Enrollment.TopicSpec, PartsAB.TopicSpec, Condition.TopicSpec, Audit.TopicSpec},
		Durables: []Durable{IngestionPharmacy, IngestionFeed},
		// It reads back what it published for an export (ExportEvents).
		Reads: []string{StreamRaw, StreamRejections, StreamClaims, StreamEnrollment, StreamMedical, StreamEncounters},
	},
	{
		User:     "risk-scoring",
		Publish:  []TopicSpec{Assessment.TopicSpec, Audit.TopicSpec},
		Durables: []Durable{RiskScoringClaims, RiskScoringMedical, RiskScoringEnrollment, RiskScoringEncounters},
		Reads:    []string{StreamClaims, StreamMedical, StreamEnrollment, StreamEncounters},
	},
	{
		User:     "intervention-scheduling",
		Publish:  []TopicSpec{Task.TopicSpec, Work.TopicSpec, Audit.TopicSpec},
		Durables: []Durable{SchedulingAssessments, SchedulingMedical, SchedulingEncounters, SchedulingEnrollment},
		Reads:    []string{StreamAssessments, StreamMedical, StreamEncounters, StreamEnrollment, StreamTasks},
	},
	{
		User:     "prescriber-outreach",
		Publish:  []TopicSpec{OutreachItem.TopicSpec, Communication.TopicSpec, Audit.TopicSpec},
		Durables: []Durable{OutreachAssessments, OutreachEncounters},
		Reads:    []string{StreamAssessments, StreamEncounters},
	},
	{
		User:     "payment-reconciliation",
		Publish:  []TopicSpec{LedgerEntry.TopicSpec, Audit.TopicSpec},
		Durables: []Durable{PaymentEncounters, PaymentEnrollment, PaymentMedical, PaymentOutreach},
		Reads:    []string{StreamEncounters, StreamEnrollment, StreamMedical, StreamOutreach, StreamLedger},
	},
}

// GrantFor returns the grant of a service.
func GrantFor(service string) (Grant, bool) {
	i := slices.IndexFunc(Grants, func(g Grant) bool { return g.User == service })
	if i < 0 {
		return Grant{}, false
	}
	return Grants[i], true
}

// InboxPrefix is where a user's replies (publish acknowledgements, pulled
// messages, API answers) arrive; each user may subscribe only under its own.
func InboxPrefix(user string) string { return "_INBOX_" + token(user) }

// Permissions are one NATS user's allow and deny lists.
type Permissions struct {
	PublishAllow, PublishDeny, SubscribeAllow []string
}

// ServicePermissions derives a service's NATS permissions from its grant.
func ServicePermissions(g Grant, partitions int) Permissions {
	// Its instances count one another (Members) on a subject of their own.
	p := Permissions{SubscribeAllow: []string{InboxPrefix(g.User) + ".>", MembersSubject(g.User, "*")},
		PublishAllow: []string{MembersSubject(g.User, "*")}}
	for _, t := range g.Publish {
		p.PublishAllow = append(p.PublishAllow, publishFilter(t, g.User))
	}
	for _, d := range g.Durables {
		for _, n := range d.Names(partitions) {
			// It writes its dead letters and reads back its own only (an
			// ordered consumer filtered on one of its dead-letter subjects).
			p.PublishAllow = append(p.PublishAllow, DeadLetterSubject(n), "$JS.API.CONSUMER.CREATE."+StreamDLQ+".*."+DeadLetterSubject(n))
		}
	}
	if len(g.Durables) > 0 {
		p.PublishAllow = append(p.PublishAllow, "$JS.API.CONSUMER.MSG.NEXT."+StreamDLQ+".*", "$JS.API.CONSUMER.INFO."+StreamDLQ+".*",
			"$JS.API.CONSUMER.DELETE."+StreamDLQ+".*")
	}
	p.PublishAllow = append(p.PublishAllow, "$JS.API.INFO", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST")
	for _, s := range g.Reads {
		p.PublishAllow = append(p.PublishAllow,
			"$JS.API.STREAM.MSG.GET."+s,
			"$JS.API.CONSUMER.CREATE."+s, "$JS.API.CONSUMER.CREATE."+s+".>",
			"$JS.API.CONSUMER.INFO."+s+".*", "$JS.API.CONSUMER.MSG.NEXT."+s+".*",
			"$JS.API.CONSUMER.DELETE."+s+".*", "$JS.API.CONSUMER.LIST."+s, "$JS.API.CONSUMER.NAMES."+s,
			"$JS.API.CONSUMER.UNPIN."+s+".*",
			"$JS.ACK."+s+".>")
	}
	// Never another service's durables, never a stream's data or definition.
	for _, other := range Grants {
		if other.User == g.User {
			continue
		}
		for _, d := range other.Durables {
			for _, n := range d.Names(partitions) {
				at := d.Stream + "." + n
				p.PublishDeny = append(p.PublishDeny,
					"$JS.API.CONSUMER.CREATE."+at, "$JS.API.CONSUMER.CREATE."+at+".>",
					"$JS.API.CONSUMER.MSG.NEXT."+at, "$JS.API.CONSUMER.DELETE."+at, "$JS.API.CONSUMER.UNPIN."+at, "$JS.ACK."+at+".>")
			}
		}
	}
	p.PublishDeny = append(p.PublishDeny, "$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>")
	return p
}

// publishFilter is the subject filter a user may publish a topic's events
// on: every variable a wildcard, but "{service}" the user itself.
func publishFilter(t TopicSpec, user string) string {
	return TopicSpec{Pattern: strings.ReplaceAll(t.Pattern, "{service}", token(user))}.Filter()
}

// FeedPermissions lets the sponsor's feed for a contract publish only its
// own submissions (enrollment, Parts A/B summaries, conditions).
func FeedPermissions(contract string) Permissions {
	return Permissions{
		PublishAllow:   []string{RawFeed.Filter(contract, "")},
		SubscribeAllow: []string{InboxPrefix("feed-"+contract) + ".>"},
	}
}

// PharmacyPermissions lets a pharmacy publish only its own submissions.
func PharmacyPermissions(npi string) Permissions {
	return Permissions{
		PublishAllow:   []string{RawPharmacy.Filter(npi, "")},
		SubscribeAllow: []string{InboxPrefix(npi) + ".>"},
	}
}

// ConsoleUser is the web console's NATS user: monitoring only.
const ConsoleUser = "console"

// ConsolePermissions let the console read stream and consumer info (the
// backlog of every durable) and nothing else: no message, no consumer of its
// own, no publish of any event.
func ConsolePermissions() Permissions {
	return Permissions{
		PublishAllow: []string{"$JS.API.INFO", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST",
			"$JS.API.CONSUMER.INFO.*.*", "$JS.API.CONSUMER.LIST.*", "$JS.API.CONSUMER.NAMES.*"},
		SubscribeAllow: []string{InboxPrefix(ConsoleUser) + ".>"},
	}
}

// AuthUser is one user of the generated NATS authorization block.
type AuthUser struct {
	User string
	// PasswordRef is written as given: a NATS config variable such as
	// $EMTM_NATS_PASSWORD_INGESTION, or a bcrypt hash.
	PasswordRef string
	// Perms nil: unrestricted (the admin).
	Perms *Permissions
}

// AuthUsers lists the users of a deployment: the admin, the five services, the console,
// one per pharmacy NPI and one per contract's feed. Passwords are referenced
// by environment variable.
func AuthUsers(partitions int, pharmacies []string, feeds ...string) []AuthUser {
	users := []AuthUser{{User: "admin", PasswordRef: "$" + PasswordEnv("admin")}}
	for _, g := range Grants {
		p := ServicePermissions(g, partitions)
		users = append(users, AuthUser{User: g.User, PasswordRef: "$" + PasswordEnv(g.User), Perms: &p})
	}
	cp := ConsolePermissions()
	users = append(users, AuthUser{User: ConsoleUser, PasswordRef: "$" + PasswordEnv(ConsoleUser), Perms: &cp})
	for _, npi := range pharmacies {
		p := PharmacyPermissions(npi)
		users = append(users, AuthUser{User: "pharmacy-" + npi, PasswordRef: "$" + PasswordEnv("pharmacy-"+npi), Perms: &p})
	}
	for _, contract := range feeds {
		p := FeedPermissions(contract)
		users = append(users, AuthUser{User: "feed-" + contract, PasswordRef: "$" + PasswordEnv("feed-"+contract), Perms: &p})
	}
	return users
}

// PasswordEnv is the environment variable holding a user's password.
func PasswordEnv(user string) string {
	return "EMTM_NATS_PASSWORD_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(user))
}

// AuthConfig renders users as a nats-server authorization block.
func AuthConfig(users []AuthUser) string {
	var b strings.Builder
	b.WriteString("# Generated by `bin/emtmctl nats-auth`; do not edit by hand (libs/bus/access.go).\n")
	b.WriteString("# Each service and pharmacy is its own user; passwords come from the environment.\n")
	b.WriteString("authorization {\n  users = [\n")
	list := func(indent, name string, xs []string) {
		if len(xs) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s%s: [\n", indent, name)
		for _, x := range xs {
			fmt.Fprintf(&b, "%s  %q\n", indent, x)
		}
		fmt.Fprintf(&b, "%s]\n", indent)
	}
	for _, u := range users {
		fmt.Fprintf(&b, "    {\n      user: %q\n      password: %s\n", u.User, u.PasswordRef)
		if u.Perms != nil {
			b.WriteString("      permissions: {\n        publish: {\n")
			list("          ", "allow", u.Perms.PublishAllow)
			list("          ", "deny", u.Perms.PublishDeny)
			b.WriteString("        }\n        subscribe: {\n")
			list("          ", "allow", u.Perms.SubscribeAllow)
			b.WriteString("        }\n      }\n")
		}
		b.WriteString("    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}
