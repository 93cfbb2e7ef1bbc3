package ctl

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// TerminalSafe wraps w so that nothing printed from data can drive the
// terminal: escape sequences, carriage returns, other control characters,
// line separators and bidirectional overrides are written as visible escapes
// (\x1b, \u202e); newlines and tabs, which emtmctl's own layout uses, pass.
// Invalid UTF-8 is written as \xNN.
func TerminalSafe(w io.Writer) io.Writer {
	if s, ok := w.(*safeWriter); ok {
		return s
	}
	return &safeWriter{w: w}
}

type safeWriter struct {
	w       io.Writer
	pending []byte // an incomplete UTF-8 sequence at the end of the last write
}

func (s *safeWriter) Write(p []byte) (int, error) {
	buf := append(s.pending, p...)
	s.pending = nil
	out := make([]byte, 0, len(buf))
	for i := 0; i < len(buf); {
		r, size := utf8.DecodeRune(buf[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(buf[i:]) {
				s.pending = append([]byte(nil), buf[i:]...)
				break
			}
			out = fmt.Appendf(out, `\x%02x`, buf[i])
			i++
			continue
		}
		switch {
		case r == '\n', r == '\t':
			out = append(out, byte(r))
		case unsafeRune(r) && r < 0x100:
			out = fmt.Appendf(out, `\x%02x`, r)
		case unsafeRune(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, buf[i:i+size]...)
		}
		i += size
	}
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// unsafeRune: C0 controls, DEL, C1 controls, the Unicode line and paragraph
// separators and the bidirectional embeddings, overrides and isolates.
func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
