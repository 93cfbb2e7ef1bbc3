package bus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
)

func TestEveryTopicIsKeptByItsStream(t *testing.T) {
	for _, topic := range Topics {
		i := slices.IndexFunc(Streams, func(s StreamSpec) bool { return s.Name == topic.Stream })
		if i < 0 {
			t.Errorf("%s: no stream %s", topic.Name, topic.Stream)
			continue
		}
		subject := topic.Subject(slices.Repeat([]string{"p7"}, topic.vars())...)
		if !slices.ContainsFunc(Streams[i].Subjects, func(f string) bool { _, ok := match(f, subject, false); return ok }) {
			t.Errorf("%s: %s is not among %s's subjects %v", topic.Name, subject, topic.Stream, Streams[i].Subjects)
		}
		for _, other := range Topics {
			if other.Pattern != topic.Pattern && other.Matches(subject) {
				t.Errorf("%s is both a %s and a %s", subject, topic.Name, other.Name)
			}
		}
	}
}

func TestSubjectsAreBuiltAndParsedFromTheTopic(t *testing.T) {
	tests := []struct {
		name    string
		topic   TopicSpec
		values  []string
		subject string
	}{
		{"a partition", ClaimPaid.TopicSpec, []string{"p3"}, "emtm.claims.p3.paid"},
		{"two variables", RawPharmacy.TopicSpec, []string{"1234567893", "claim"}, "emtm.raw.pharmacy.1234567893.claim"},
		{"an unsafe value becomes one token", LedgerEntry.TopicSpec, []string{"S1234.x y"}, "emtm.ledger.S1234_x_y"},
		{"a wildcard is not passed on", Audit.TopicSpec, []string{"a.>"}, "emtm.audit.a__"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.topic.Subject(tt.values...)
			if got != tt.subject {
				t.Fatalf("Subject(%v) = %q, want %q", tt.values, got, tt.subject)
			}
			if vals, ok := tt.topic.Parse(got); !ok || len(vals) != len(tt.values) {
				t.Fatalf("Parse(%q) = %v %v", got, vals, ok)
			}
		})
	}
	for _, s := range []string{"emtm.claims.x3.paid", "emtm.claims.p.paid", "emtm.claims.p3.paid.x", "emtm.claims.p3", "emtm.claims..paid"} {
		if ClaimPaid.Matches(s) {
			t.Errorf("%q matched as a paid claim", s)
		}
	}
	if OutreachItem.Matches(Communication.Subject("1234567893")) {
		t.Error("a letter matched as an outreach item")
	}
	if got := ClaimPaid.Filter(); got != "emtm.claims.*.paid" {
		t.Errorf("filter %q", got)
	}
	if got := RawFeed.Filter("S9925", ""); got != "emtm.raw.feed.S9925.*" {
		t.Errorf("filter %q", got)
	}
}

func TestEveryDurableReceivesExactlyItsTopicsAndIsGrantedOnce(t *testing.T) {
	granted := map[string]string{}
	for _, g := range Grants {
		for _, d := range g.Durables {
			if prev, ok := granted[d.Name]; ok {
				t.Errorf("durable %s granted to %s and %s", d.Name, prev, g.User)
			}
			granted[d.Name] = g.User
			if !strings.HasPrefix(d.Filter, "emtm.") || strings.Contains(d.Filter, "{p}") != d.Partitioned {
				t.Errorf("%s: filter %q, partitioned %v", d.Name, d.Filter, d.Partitioned)
			}
			for _, topic := range Topics {
				subject := topic.Subject(slices.Repeat([]string{"p2"}, topic.vars())...)
				handled := slices.ContainsFunc(d.Topics, func(x TopicSpec) bool { return x.Pattern == topic.Pattern })
				if d.Lets(subject) != handled {
					t.Errorf("%s: lets %s through: %v; lists %s among its topics: %v", d.Name, subject, d.Lets(subject), topic.Name, handled)
				}
			}
		}
	}
	if len(granted) != 16 {
		t.Errorf("%d durables granted, want 16", len(granted))
	}
}

func TestASubscriptionMustHandleItsDurablesTopicsExactly(t *testing.T) {
	nop := func(context.Context, *claimsv1.PharmacyClaim) error { return nil }
	nopR := func(context.Context, *claimsv1.ClaimReversal) error { return nil }
	key := func(string, nats.Header, []byte) string { return "" }
	tests := []struct {
		name string
		sub  Subscription
		want string
	}{
		{"every topic handled", Subscribe(RiskScoringClaims, On(ClaimPaid, nop), On(ClaimReversed, nopR)), ""},
		{"a topic without a handler", Subscribe(RiskScoringClaims, On(ClaimPaid, nop)), "no handler for claim reversal"},
		{"a handler for a topic the durable never receives", Subscribe(PaymentEncounters, On(ClaimPaid, nop)), "does not receive paid claim"},
		{"a topic handled twice", Subscribe(RiskScoringClaims, On(ClaimPaid, nop), On(ClaimPaid, nop), On(ClaimReversed, nopR)), "two handlers"},
		{"a payload-keyed durable without its key", Subscribe(IngestionFeed, On(RawFeed, func(context.Context, *Msg) error { return nil })), "ordering key"},
		{"a key where the header keeps order", Subscribe(RiskScoringClaims, On(ClaimPaid, nop), On(ClaimReversed, nopR)).KeyedBy(key), "ordering key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sub.Check()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Check() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRoutesDecodeOnceAndDeadLetterWhatTheyCannotRead(t *testing.T) {
	var got []string
	routes := Routes{
		On(ClaimPaid, func(_ context.Context, c *claimsv1.PharmacyClaim) error {
			got = append(got, "paid "+c.ClaimId)
			return nil
		}),
		On(ClaimReversed, func(_ context.Context, r *claimsv1.ClaimReversal) error {
			got = append(got, "reversed "+r.ClaimId)
			return errors.New("redis is down")
		}),
	}
	data := func(m proto.Message) []byte { b, _ := proto.Marshal(m); return b }
	ctx := context.Background()
	if err := routes.Handle(ctx, &Msg{Subject: ClaimPaidSubject("p1"), Data: data(&claimsv1.PharmacyClaim{ClaimId: "C1"})}); err != nil {
		t.Fatal(err)
	}
	if err := routes.Handle(ctx, &Msg{Subject: ClaimReversedSubject("p1"), Data: data(&claimsv1.ClaimReversal{ClaimId: "C1"})}); err == nil || IsPermanent(err) {
		t.Fatalf("a handler's transient error came back as %v", err)
	}
	if err := routes.Handle(ctx, &Msg{Subject: ClaimPaidSubject("p1"), Data: []byte("\x0f not a claim")}); !IsPermanent(err) || !strings.Contains(err.Error(), "decode paid claim") {
		t.Fatalf("an unreadable claim: %v", err)
	}
	if err := routes.Handle(ctx, &Msg{Subject: EncounterSubject("p1")}); !IsPermanent(err) {
		t.Fatalf("a subject without a route: %v", err)
	}
	if strings.Join(got, ",") != "paid C1,reversed C1" {
		t.Fatalf("handled %v", got)
	}
	if ClaimPaid.Carries != "emtm.claims.v1.PharmacyClaim" {
		t.Fatalf("carries %q", ClaimPaid.Carries)
	}
}
