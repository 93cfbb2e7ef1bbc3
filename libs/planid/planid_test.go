package planid

import "testing"

type event struct{ c, p string }

func (e event) GetContractId() string { return e.c }
func (e event) GetPbpId() string      { return e.p }

func TestAPlanIsWrittenAndReadAsContractDashPBP(t *testing.T) {
	if got := Of(event{"S9925", "001"}).String(); got != "S9925-001" {
		t.Errorf("String = %q", got)
	}
	tests := []struct {
		in   string
		want ID
		ok   bool
	}{
		{"S9925-001", ID{"S9925", "001"}, true},
		{" s9925-001 ", ID{"S9925", "001"}, true},
		{"H1234-042", ID{"H1234", "042"}, true},
		{"S9925", ID{}, false},
		{"S9925-1", ID{}, false},
		{"9925-001", ID{}, false},
		{"S9925-001-2", ID{}, false},
		{"", ID{}, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if c, p := Split("S9925-001"); c != "S9925" || p != "001" {
		t.Errorf("Split = %q %q", c, p)
	}
	if c, p := Split("junk"); c != "junk" || p != "" {
		t.Errorf("Split of a key without a dash = %q %q", c, p)
	}
	for key, want := range map[string]bool{"S9925-001": true, "s9925-001": false, " S9925-001": false, "S9925-01": false, "S9925": false} {
		if IsKey(key) != want {
			t.Errorf("IsKey(%q) = %v", key, !want)
		}
	}
}
