package ctl

import (
	"bytes"
	"testing"
)

func TestDataCannotDriveTheTerminal(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain text and layout pass", "drugs\tatorvastatin, lisinopril\n", "drugs\tatorvastatin, lisinopril\n"},
		{"an escape sequence is shown, not run", "glyburide\x1b[2J\x1b]0;owned\a", `glyburide\x1b[2J\x1b]0;owned\x07`},
		{"a carriage return cannot overwrite the line", "PAID\rDENIED", `PAID\x0dDENIED`},
		{"a right-to-left override is shown", "20 MG \u202eGM", `20 MG \u202eGM`},
		{"a C1 control is shown", "a\u009bb", `a\x9bb`},
		{"invalid UTF-8 is shown byte by byte", "a\xffb", `a\xffb`},
		{"accents pass", "Müller café", "Müller café"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if _, err := TerminalSafe(&b).Write([]byte(c.in)); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("%s: %q, want %q", c.name, b.String(), c.want)
		}
	}
}

func TestARuneSplitAcrossWritesIsKeptWhole(t *testing.T) {
	var b bytes.Buffer
	w := TerminalSafe(&b)
	e := []byte("café \u202e")
	for i := range e {
		if _, err := w.Write(e[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if b.String() != `café \u202e` {
		t.Fatalf("%q", b.String())
	}
}

func FuzzTerminalSafeWritesNoControlCharacters(f *testing.F) {
	f.Add([]byte("a\x1b[31mb\n"))
	f.Add([]byte("\u202e\xff\xc3"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var b bytes.Buffer
		if _, err := TerminalSafe(&b).Write(in); err != nil {
			t.Fatal(err)
		}
		for _, r := range b.String() {
			if unsafeRune(r) && r != '\n' && r != '\t' {
				t.Fatalf("%q came out as %q, with %U", in, b.String(), r)
			}
		}
	})
}
