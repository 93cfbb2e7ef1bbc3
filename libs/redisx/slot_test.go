package redisx

import "testing"

// The slots are those the Redis Cluster specification gives (its example
// "123456789" has CRC16 0x31C3) and that CLUSTER KEYSLOT answers.
func TestSlotIsTheClusterSpecificationsHashSlot(t *testing.T) {
	t.Parallel()
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	tests := []struct {
		key  string
		want int
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", Slot("user1000")},
		{"foo{}{bar}", Slot("foo{}{bar}")}, // an empty tag: the whole key
		{"foo{{bar}}zap", Slot("{bar")},
		{"foo{bar}{zap}", Slot("bar")},
	}
	for _, tt := range tests {
		if got := Slot(tt.key); got != tt.want {
			t.Errorf("Slot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if Slot("foo{}{bar}") == Slot("bar") {
		t.Error("an empty hash tag was taken as a tag")
	}
}

func TestSameSlotNamesKeysThatWouldCrossSlots(t *testing.T) {
	t.Parallel()
	if err := SameSlot("a:{p1}:x", "b:{p1}:y"); err != nil {
		t.Fatalf("one hash tag refused: %v", err)
	}
	if err := SameSlot("a:{p1}:x", "b:{p2}:y"); err == nil {
		t.Fatal("keys of two tags accepted")
	}
}
