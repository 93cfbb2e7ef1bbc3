package service

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/config"
)

func TestPlansAreReadAsContractDashPBP(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{in: "S9925-001", want: "S9925-001"},
		{in: " S9925-001 , H1234-002,", want: "S9925-001,H1234-002"},
		{in: "", err: "at least one plan"},
		{in: "S9925", err: `"S9925" is not <contract>-<pbp>`},
		{in: "S9925-1", err: "is not <contract>-<pbp>"},
		{in: "9925-001", err: "is not <contract>-<pbp>"},
	} {
		got, err := ParsePlans(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParsePlans(%q): %v, want an error with %q", c.in, err, c.err)
			}
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if err != nil || strings.Join(s, ",") != c.want {
			t.Errorf("ParsePlans(%q) = %v, %v; want %s", c.in, s, err, c.want)
		}
	}
}

func TestBadSettingsAreRefusedWithTheFlagToMend(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"-tls-cert", "a.pem"}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-client-ca", "ca.pem"}, "-tls-client-ca needs -tls-cert"},
		{[]string{"-log-format", "xml"}, "-log-format"},
		{[]string{"-refresh", "10ms"}, "-refresh"},
		{[]string{"-plans", "nope"}, "-plans"},
	} {
		set := config.New(Name, func(string) string { return "" })
		set.SetOutput(&strings.Builder{})
		Flags(set)
		if err := set.Parse(c.args); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: %v, want an error naming %q", c.args, err, c.err)
		}
	}
}

// FuzzParsePlans: any -plans value is read into valid plans or refused.
func FuzzParsePlans(f *testing.F) {
	for _, s := range []string{"S9925-001", "S9925-001,H1234-002", ",,", "S-", "-001", "S9925-001-002"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plans, err := ParsePlans(s)
		if err != nil {
			return
		}
		if len(plans) == 0 {
			t.Fatal("no plans and no error")
		}
		for _, p := range plans {
			if !p.Valid() {
				t.Fatalf("invalid plan %+v accepted from %q", p, s)
			}
		}
	})
}

func TestTheProbeChecksOnlyALoopbackURL(t *testing.T) {
	var errs strings.Builder
	if code := Command(t.Context(), []string{"probe", "https://console.invalid:8080/healthz"}, func(string) string { return "" }, &errs); code != 1 ||
		!strings.Contains(errs.String(), "not a loopback address") {
		t.Fatalf("a probe of another host: exit %d, %q", code, errs.String())
	}
	errs.Reset()
	if code := Command(t.Context(), []string{"probe", "http://127.0.0.1:1/healthz"}, func(string) string { return "" }, &errs); code != 1 {
		t.Fatalf("a probe of a closed port: exit %d", code)
	}
}

func TestAnOpenConsoleIsRefusedBeyondLoopback(t *testing.T) {
	c := Config{Addr: "0.0.0.0:0", Plans: nil}
	_, err := Start(t.Context(), c, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "beyond loopback") {
		t.Fatalf("an open console on every address: %v", err)
	}
}
