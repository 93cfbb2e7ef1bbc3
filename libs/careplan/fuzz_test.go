package careplan

import (
	"os"
	"testing"
)

// FuzzRead reads any bytes as a care plan: no panic, and either a plan or
// violations, each with a path and a reason.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"phcp-bundle-example", "phcp-medication-therapy-condition-example", "phcp-intervention-procedure-example"} {
		b, err := os.ReadFile("testdata/phcp-json/r4-stu1/" + name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"document","entry":[{"resource":{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/x"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"713116003"}]}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, vs := Read(data)
		for _, v := range vs {
			if v.Path == "" || v.Reason == "" {
				t.Fatalf("violation without a path or a reason: %+v", v)
			}
		}
		if p == nil && len(vs) == 0 {
			t.Fatal("neither a plan nor a violation")
		}
	})
}
