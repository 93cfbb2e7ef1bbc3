package population

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
)

func newEnrollment() proto.Message { return &enrollmentv1.Enrollment{} }

func TestALineThatIsNotAMessageIsReportedByNumberAndTheOthersAreRead(t *testing.T) {
	in := `{"enrollmentId":"E1","memberId":"M1"}

{"enrollmentId":
{"enrollmentId":"E3","unknownField":1}
{"enrollmentId":"E4","memberId":"M4"}` + "\r\n"
	var got []string
	bad, err := ReadNDJSON(strings.NewReader(in), newEnrollment, func(line int, m proto.Message) error {
		got = append(got, m.(*enrollmentv1.Enrollment).EnrollmentId)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "E1,E4" {
		t.Errorf("read %v, want E1 and E4", got)
	}
	if len(bad) != 2 || bad[0].Line != 3 || bad[1].Line != 4 {
		t.Fatalf("bad lines %v, want lines 3 and 4", bad)
	}
}

func TestALineLongerThanTheBoundStopsTheFileWithItsNumber(t *testing.T) {
	in := `{"enrollmentId":"E1"}` + "\n" + `{"memberId":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	_, err := ReadNDJSON(strings.NewReader(in), newEnrollment, func(int, proto.Message) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error %v, want one naming line 2", err)
	}
}

// FuzzReadNDJSON: any bytes are read without a panic; every line reported
// bad or read is a line of the input.
func FuzzReadNDJSON(f *testing.F) {
	f.Add([]byte(`{"enrollmentId":"E1","memberId":"P0000001","startDate":{"year":2021,"month":1,"day":1}}` + "\n"))
	f.Add([]byte("{\"endReason\":\"END_REASON_DECEASED\"}\n\n{\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := strings.Count(string(b), "\n") + 1
		n := 0
		bad, _ := ReadNDJSON(strings.NewReader(string(b)), newEnrollment, func(line int, m proto.Message) error {
			if line < 1 || line > lines {
				t.Fatalf("line %d of %d", line, lines)
			}
			n++
			return nil
		})
		for _, e := range bad {
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("bad line %d of %d", e.Line, lines)
			}
		}
		if n+len(bad) > lines {
			t.Fatalf("%d read and %d bad of %d lines", n, len(bad), lines)
		}
	})
}
