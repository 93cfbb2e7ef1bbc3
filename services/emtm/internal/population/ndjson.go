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

// ReadNDJSON reads one message a line (emtm's protobuf JSON, as `emtmctl
// generate population` writes and as emtm's events are published), calling
// fn with each. A line that is not such a message is collected as a
// LineError and the next lines are still read; blank lines are skipped. The
// returned error is the reader's (or fn's) own.
func ReadNDJSON(r io.Reader, newMsg func() proto.Message, fn func(line int, m proto.Message) error) ([]*LineError, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	var bad []*LineError
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 || (len(b) == 1 && b[0] == '\r') {
			continue
		}
		m := newMsg()
		if err := protojson.Unmarshal(b, m); err != nil {
			bad = append(bad, &LineError{Line: line, Msg: err.Error()})
			continue
		}
		if err := fn(line, m); err != nil {
			return bad, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return bad, fmt.Errorf("line %d: longer than %d bytes", line+1, MaxLineBytes)
		}
		return bad, err
	}
	return bad, nil
}
