package ctl

import (
	"bytes"
	"errors"
	"testing"
)

func run(args ...string) (string, error) {
	cmd := New(func(string) string { return "" })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestCheck(t *testing.T) {
	tests := []struct {
		args []string
		out  string
		exit int
	}{
		{[]string{"check", "npi", "1234567893"}, "1234567893\tok\n", 0},
		{[]string{"check", "npi", "1234567893", "1234567890"}, "1234567893\tok\n1234567890\terror: NPI check digit is 0, expected 3 for 123456789\n", 1},
		{[]string{"check", "mbi", "1EG4-TE5-MK73"}, "1EG4-TE5-MK73\tok\n", 0},
		{[]string{"check", "ndc", "0002322730"}, "0002322730\terror: 10-digit NDC \"0002322730\" without dashes is ambiguous (4-4-2, 5-3-2 or 5-4-1?): send it with dashes or as 11 digits\n", 1},
		{[]string{"check", "SNOMED", "430193006", "430193007"}, "430193006\tok\n430193007\terror: SNOMED CT code 430193007 fails its Verhoeff check digit\n", 1},
	}
	for _, tt := range tests {
		out, err := run(tt.args...)
		exit := 0
		var e ExitError
		if errors.As(err, &e) {
			exit = e.Code
		} else if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if out != tt.out || exit != tt.exit {
			t.Errorf("%v:\n got %q exit %d\nwant %q exit %d", tt.args, out, exit, tt.out, tt.exit)
		}
	}
	if _, err := run("check", "ssn", "1"); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

func TestStatusSaysWhatToDoWhenNothingRuns(t *testing.T) {
	_, err := run("status", "--nats-url", "nats://127.0.0.1:1")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("make run")) {
		t.Fatalf("got %v, want a hint to start emtm", err)
	}
}
