package ctl

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/population"
)

func generated(t *testing.T, members int) (string, population.Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pop")
	m, err := population.WriteDir(dir, population.Options{Members: members, Years: 2, FirstYear: 2020, Seed: 9, Contract: "S9925", PBP: "001"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func drain(t *testing.T, src load.MemberSource) (members []string, groups [][]load.Submission, err error) {
	t.Helper()
	for i := 0; i < 100000; i++ {
		m, subs, err := src()
		if errors.Is(err, io.EOF) {
			return members, groups, nil
		}
		if err != nil {
			return members, groups, err
		}
		members, groups = append(members, m), append(groups, subs)
	}
	t.Fatal("the source did not end")
	return nil, nil, nil
}

func TestAPopulationIsReadOneMemberAtATimeEnrollmentFirst(t *testing.T) {
	dir, man := generated(t, 40)
	src, total, read, _, closeAll, err := streamPopulation(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	members, groups, err := drain(t, src)
	if err != nil {
		t.Fatal(err)
	}
	c := man.Counts
	if want := c.Enrollments + c.Conditions + c.Claims + c.Reversals + c.Medical; total != want {
		t.Errorf("total %d, want the manifest's %d", total, want)
	}
	if len(members) != 40 || members[0] != "P0000001" || members[39] != "P0000040" {
		t.Fatalf("members %v", members)
	}
	for i, g := range groups {
		if g[0].Kind != "enrollment" {
			t.Fatalf("member %s's first record is a %s", members[i], g[0].Kind)
		}
		rank := map[string]int{"enrollment": 0, "condition": 1, "claim": 2, "reversal": 2, "medical": 3}
		for k := 1; k < len(g); k++ {
			if rank[g[k].Kind] < rank[g[k-1].Kind] {
				t.Fatalf("member %s: a %s after a %s", members[i], g[k].Kind, g[k-1].Kind)
			}
		}
	}
	if read["claim"] != c.Claims || read["reversal"] != c.Reversals || read["medical"] != c.Medical || read["condition"] != c.Conditions {
		t.Errorf("read %v, manifest %+v", read, c)
	}
}

func TestAnUnreadableLineIsReportedAndCountedAndTheRestIsRead(t *testing.T) {
	dir, man := generated(t, 10)
	path := filepath.Join(dir, population.ConditionsFile)
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append([]byte("{not json\n"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	src, _, read, skipped, closeAll, err := streamPopulation(dir, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if _, _, err := drain(t, src); err != nil {
		t.Fatal(err)
	}
	if read["condition"] != man.Counts.Conditions || skipped["unreadable:NDJSON"] != 1 || !strings.Contains(stderr.String(), "conditions.ndjson: line 1") {
		t.Fatalf("read %v, skipped %v, stderr %q", read, skipped, stderr.String())
	}
}

func TestAFileOutOfMemberOrderStopsTheImportNamingItsLine(t *testing.T) {
	dir, _ := generated(t, 5)
	path := filepath.Join(dir, population.EnrollmentFile)
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	lines[1], lines[2] = lines[2], lines[1]
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, _, _, _, closeAll, err := streamPopulation(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	_, _, err = drain(t, src)
	if err == nil || !strings.Contains(err.Error(), "enrollment.ndjson, line 3") || !strings.Contains(err.Error(), "id order") {
		t.Fatalf("error %v, want one naming enrollment.ndjson line 3", err)
	}
}
