package bluebutton

// The FHIR library (github.com/google/fhir/go v0.7.4) requires the 2020
// google.golang.org/genproto, which still held packages later moved into
// their own modules (googleapis/rpc/status among them): with both in the
// build, Go refuses the import as ambiguous. Importing a package of the
// current genproto keeps that version required (go mod tidy would drop an
// unused requirement), so each package has one module.
import _ "google.golang.org/genproto/protobuf/field_mask"
