package ctl

import (
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
)

// decodePayload reads a rejected submission's payload as its kind, when it can.
func decodePayload(r *ingestionv1.Rejection) (proto.Message, error) {
	var m proto.Message
	switch r.Kind {
	case bus.KindClaim:
		m = &claimsv1.PharmacyClaim{}
	case bus.KindReversal:
		m = &claimsv1.ClaimReversal{}
	case bus.KindEncounter:
		m = &encountersv1.MtmEncounter{}
	case bus.KindEnrollment:
		m = &enrollmentv1.Enrollment{}
	case bus.KindMedical:
		m = &medicalv1.PartsAbSummary{}
	case bus.KindCondition:
		m = &medicalv1.Condition{}
	default:
		return nil, fmt.Errorf("kind %q has no message type", r.Kind)
	}
	media, err := bus.MediaType(r.ContentType)
	switch {
	case err != nil:
	case media == bus.ContentJSON:
		err = protojson.Unmarshal(r.Payload, m)
	case media == bus.ContentProtobuf || media == "":
		err = proto.Unmarshal(r.Payload, m)
	default:
		err = fmt.Errorf("content type %q", r.ContentType)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// idAndMember are the submission's own id (claim_id, encounter_id, ...) and
// member_id, or "" when the payload cannot be read.
func idAndMember(r *ingestionv1.Rejection) (id, member string) {
	m, err := decodePayload(r)
	if err != nil {
		return "", ""
	}
	fields := m.ProtoReflect().Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.StringKind || fd.IsList() {
			continue
		}
		name := string(fd.Name())
		if name == "member_id" {
			member = m.ProtoReflect().Get(fd).String()
		} else if id == "" && strings.HasSuffix(name, "_id") && name != "contract_id" && name != "pbp_id" {
			id = m.ProtoReflect().Get(fd).String()
		}
	}
	return id, member
}

// rejectionState is a rejection's status in a few words.
func rejectionState(st *ingestionv1.RejectionStatus) string {
	switch {
	case st == nil:
		return "open"
	case st.ResolvedEventId != "":
		return "resolved as " + st.ResolvedEventId
	case st.Handled != "":
		return "handled"
	case st.LastRejectionId != "":
		return fmt.Sprintf("open (resubmitted %d, last %s)", st.Resubmissions, st.LastRejectionId)
	}
	return "open"
}

// printRejection writes everything an operator needs to act on a rejection.
func printRejection(w io.Writer, r *ingestionv1.Rejection, st *ingestionv1.RejectionStatus) {
	id, member := idAndMember(r)
	fmt.Fprintf(w, "rejection    %s\n", r.RejectionId)
	fmt.Fprintf(w, "kind         %s\n", r.Kind)
	fmt.Fprintf(w, "id           %s\n", orDash(id))
	fmt.Fprintf(w, "member       %s\n", orDash(member))
	fmt.Fprintf(w, "sender       %s (channel %s)\n", orDash(r.Sender), r.Channel)
	fmt.Fprintf(w, "subject      %s (raw sequence %d)\n", r.RawSubject, r.RawSequence)
	fmt.Fprintf(w, "received     %s\n", r.ReceivedAt.AsTime().UTC().Format(time.RFC3339))
	if r.ResubmitsRejectionId != "" {
		fmt.Fprintf(w, "resubmits    %s\n", r.ResubmitsRejectionId)
	}
	fmt.Fprintf(w, "status       %s\n", rejectionState(st))
	if st != nil && st.Handled != "" {
		fmt.Fprintf(w, "handled      %s\n", st.Handled)
	}
	fmt.Fprintln(w, "REASONS")
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", orDash(v.Field), v.Reason, v.Description)
	}
	fmt.Fprintf(w, "PAYLOAD (%d bytes, %s)\n", len(r.Payload), orDash(r.ContentType))
	if m, err := decodePayload(r); err == nil {
		b, _ := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
		fmt.Fprintf(w, "%s\n", b)
	} else {
		fmt.Fprintf(w, "  not readable as a %s (%v); raw: %q\n", r.Kind, err, truncate(r.Payload, 2000))
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
