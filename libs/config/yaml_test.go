package config

import (
	"strings"
	"testing"
)

type sample struct {
	Name  string         `yaml:"name"`
	List  []int          `yaml:"list"`
	Tiers map[string]int `yaml:"tiers"`
	Plans map[string]struct {
		Weight int `yaml:"weight"`
	} `yaml:"plans"`
}

func TestDecodeYAMLIsStrictAndPointsAtLines(t *testing.T) {
	good := "name: x\ntiers:\n  moderate: 3\n  high: 6\nplans:\n  S9925-001:\n    weight: 2\n"
	var s sample
	doc, err := DecodeYAML("p.yaml", []byte(good), &s)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tiers["high"] != 6 || s.Plans["S9925-001"].Weight != 2 {
		t.Fatalf("%+v", s)
	}
	if l := doc.Line("tiers", "high"); l != 4 {
		t.Fatalf("line of tiers.high = %d, want 4", l)
	}
	if l := doc.Line("plans", "S9925-001", "weight"); l != 7 {
		t.Fatalf("line of plans.S9925-001.weight = %d, want 7", l)
	}
	list, err := DecodeYAML("p.yaml", []byte("list:\n  - 1\n  - 2\n"), &sample{})
	if err != nil || list.Line("list", "1") != 3 || list.Line("list", "9") != 1 {
		t.Fatalf("lines of list items: %d %d (%v)", list.Line("list", "1"), list.Line("list", "9"), err)
	}
	if e := doc.Errorf([]string{"tiers", "high"}, "must exceed moderate"); e.Error() != "p.yaml:4: tiers.high: must exceed moderate" {
		t.Fatalf("%q", e.Error())
	}
	for in, want := range map[string]string{
		"name: x\nweights: 1\n":          "line 2: field weights not found",
		"name: x\ntiers:\n  high: six\n": "line 3: cannot unmarshal",
		"":                               "empty",
		"name: [\n":                      "p.yaml",
	} {
		var s sample
		if _, err := DecodeYAML("p.yaml", []byte(in), &s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
