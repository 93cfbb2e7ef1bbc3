package bus

import (
	"maps"
	"testing"
)

func TestToYieldHandsOverWhatAnInstanceShouldNotHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		holdings map[string]int
		parts    int
		self     string
		want     int
	}{
		{"one instance keeps everything", map[string]int{"a": 4}, 4, "a", 0},
		{"a joining second instance gets half", map[string]int{"a": 4, "b": 0}, 4, "a", 2},
		{"the one holding nothing yields nothing", map[string]int{"a": 4, "b": 0}, 4, "b", 0},
		{"balanced two stay", map[string]int{"a": 2, "b": 2}, 4, "a", 0},
		{"a third joining: the first of the fullest yields one", map[string]int{"a": 2, "b": 2, "c": 0}, 4, "a", 1},
		{"a third joining: the other fullest waits its turn", map[string]int{"a": 2, "b": 2, "c": 0}, 4, "b", 0},
		{"two, one and one is balanced", map[string]int{"a": 1, "b": 2, "c": 1}, 4, "b", 0},
		{"over the ceiling yields the excess", map[string]int{"a": 7, "b": 1, "c": 0}, 8, "a", 4},
		{"more instances than partitions: one each at most", map[string]int{"a": 2, "b": 0, "c": 0}, 2, "a", 1},
		{"more instances than partitions, balanced", map[string]int{"a": 1, "b": 1, "c": 0}, 2, "a", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toYield(tt.self, maps.Clone(tt.holdings), tt.parts); got != tt.want {
				t.Fatalf("toYield(%s, %v, %d) = %d, want %d", tt.self, tt.holdings, tt.parts, got, tt.want)
			}
		})
	}
}

func TestABeatSaysWhatAnInstanceHolds(t *testing.T) {
	t.Parallel()
	in := map[string]int{"risk-scoring-claims": 2, "risk-scoring-medical": 0}
	if got := decodeHeld(encodeHeld(in)); !maps.Equal(got, in) {
		t.Fatalf("round trip %v, want %v", got, in)
	}
	if got := decodeHeld([]byte("x=-1\n=3\ny=z\nok=1")); !maps.Equal(got, map[string]int{"ok": 1}) {
		t.Fatalf("a malformed beat read as %v", got)
	}
}

func FuzzDecodeHeld(f *testing.F) {
	f.Add([]byte("risk-scoring-claims=2\n"))
	f.Add([]byte("a=1\nb=99999999999999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := decodeHeld(data)
		if len(got) > maxBeatDurables {
			t.Fatalf("%d durables read from one beat", len(got))
		}
		for d, n := range got {
			if d == "" || n < 0 {
				t.Fatalf("read %q=%d", d, n)
			}
		}
	})
}
