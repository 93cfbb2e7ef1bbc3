package grpcx

import (
	"context"
	"sort"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// requestTypes maps every method of the permission table to its request type.
func requestTypes(t testing.TB) ([]string, map[string]protoreflect.MessageType) {
	methods := make([]string, 0, len(Permissions))
	types := map[string]protoreflect.MessageType{}
	for m := range Permissions {
		svc, name, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
		if !ok {
			t.Fatalf("method %q", m)
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Fatalf("%s: %v", svc, err)
		}
		md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
		if md == nil {
			t.Fatalf("%s has no method %s", svc, name)
		}
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		if err != nil {
			t.Fatalf("%s: %v", md.Input().FullName(), err)
		}
		methods = append(methods, m)
		types[m] = mt
	}
	sort.Strings(methods)
	return methods, types
}

// FuzzEveryRequestType reads arbitrary bytes as the request of every gRPC
// method (the first byte picks the method) and authorizes it as each class of
// caller: nothing panics, an operator is allowed everything, a certificate
// naming nothing only what any authenticated caller may call, and a sponsor
// never a request that names another contract.
func FuzzEveryRequestType(f *testing.F) {
	methods, types := requestTypes(f)
	f.Add(byte(0), []byte{})
	f.Add(byte(3), []byte("\x0a\x05S4321"))          // contract_id (field 1) of another sponsor
	f.Add(byte(17), []byte("\x0a\x05S9925\x10\x01")) // own contract, a flag
	f.Add(byte(9), []byte("\xff\xff\xff"))
	callers := map[string]context.Context{
		"operator": withCert("*"), "sponsor": withCert("S9925"), "pharmacy": withCert("pharmacy:1245319599"),
		"feed": withCert("feed:S9925"), "probe": withCert(),
	}
	f.Fuzz(func(t *testing.T, pick byte, data []byte) {
		method := methods[int(pick)%len(methods)]
		req := types[method].New().Interface()
		if err := proto.Unmarshal(data, req); err != nil {
			return // not a request of this type: the server refuses it before any handler
		}
		p := Permissions[method]
		for who, ctx := range callers {
			err := authorize(ctx, method, req)
			if err != nil && status.Code(err) != codes.PermissionDenied {
				t.Fatalf("%s as %s: %v, want PERMISSION_DENIED or nothing", method, who, err)
			}
			switch {
			case who == "operator" && err != nil:
				t.Fatalf("%s refused an operator: %v", method, err)
			case who == "probe" && err == nil && p.Access != Authenticated:
				t.Fatalf("%s allowed a certificate that names nothing", method)
			case who == "sponsor" && err == nil && p.Access != Authenticated && p.Access != Sponsor:
				t.Fatalf("%s (%s) allowed a sponsor", method, p.Access)
			}
			if r, ok := req.(interface{ GetContractId() string }); ok && who == "sponsor" && err == nil && r.GetContractId() != "" && r.GetContractId() != "S9925" {
				t.Fatalf("%s allowed sponsor S9925 a request for contract %q", method, r.GetContractId())
			}
		}
	})
}
