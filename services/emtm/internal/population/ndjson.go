package population

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// MaxLineBytes bounds one NDJSON line (an enrollment or summary is a few hundred bytes).
const MaxLineBytes = 64 << 10

// LineError is a line of an NDJSON file that cannot be read.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// NDJSONReader reads one message a line (emtm's protobuf JSON, as `emtmctl
// generate population` writes and as emtm's events are published).
type NDJSONReader struct {
	sc   *bufio.Scanner
	line int
}

// NewNDJSONReader reads r.
func NewNDJSONReader(r io.Reader) *NDJSONReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	return &NDJSONReader{sc: sc}
}

// Next reads the next message into newMsg()'s result, skipping blank lines:
// a line that is not such a message is a *LineError (the reader goes on
// after it); io.EOF ends the file; another error is the reader's own.
func (n *NDJSONReader) Next(newMsg func() proto.Message) (int, proto.Message, error) {
	for n.sc.Scan() {
		n.line++
		b := n.sc.Bytes()
		if len(b) == 0 || (len(b) == 1 && b[0] == '\r') {
			continue
		}
		m := newMsg()
		if err := protojson.Unmarshal(b, m); err != nil {
			return n.line, nil, &LineError{Line: n.line, Msg: err.Error()}
		}
		return n.line, m, nil
	}
	if err := n.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return n.line + 1, nil, fmt.Errorf("line %d: longer than %d bytes", n.line+1, MaxLineBytes)
		}
		return n.line, nil, err
	}
	return n.line, nil, io.EOF
}

// ReadNDJSON reads every message of r, calling fn with each. A line that is
// not such a message is collected as a LineError and the next lines are
// still read; blank lines are skipped. The returned error is the reader's
// (or fn's) own.
func ReadNDJSON(r io.Reader, newMsg func() proto.Message, fn func(line int, m proto.Message) error) ([]*LineError, error) {
	rd := NewNDJSONReader(r)
	var bad []*LineError
	for {
		line, m, err := rd.Next(newMsg)
		var le *LineError
		switch {
		case errors.As(err, &le):
			bad = append(bad, le)
			continue
		case errors.Is(err, io.EOF):
			return bad, nil
		case err != nil:
			return bad, err
		}
		if err := fn(line, m); err != nil {
			return bad, err
		}
	}
}
