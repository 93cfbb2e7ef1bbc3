package web

import (
	"encoding/json"
	"testing"
)

// FuzzWaterfall: whatever a trace store answers, laying it out never panics,
// draws each span at most once and keeps every bar inside the trace.
func FuzzWaterfall(f *testing.F) {
	f.Add([]byte(`{"data":[{"traceID":"t","spans":[{"spanID":"a","startTime":5,"duration":3,"processID":"p"},{"spanID":"b","references":[{"refType":"CHILD_OF","spanID":"a"}],"startTime":6,"duration":1}],"processes":{"p":{"serviceName":"s"}}}]}`))
	f.Add([]byte(`{"data":[{"spans":[{"spanID":"a","references":[{"refType":"CHILD_OF","spanID":"a"}],"startTime":-9,"duration":-1}]}]}`))
	f.Add([]byte(`{"data":[{"spans":[{"spanID":"a","references":[{"refType":"CHILD_OF","spanID":"b"}]},{"spanID":"b","references":[{"refType":"CHILD_OF","spanID":"a"}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tr jaegerTrace
		if json.Unmarshal(b, &tr) != nil || len(tr.Data) == 0 || len(tr.Data[0].Spans) == 0 {
			return
		}
		w := waterfall(tr)
		if len(w.Rows) > len(tr.Data[0].Spans) {
			t.Fatalf("%d rows for %d spans", len(w.Rows), len(tr.Data[0].Spans))
		}
		for _, r := range w.Rows {
			if r.X < 0 || r.X > 1000 || r.W < 2 || r.Depth < 0 || r.Depth > 12 {
				t.Fatalf("row %+v outside the trace", r)
			}
		}
	})
}
