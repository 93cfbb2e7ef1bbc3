package redisx

import "github.com/emtm/emtm/libs/bus"

// Partitions is a deployment's partition count (-partitions), seen as Redis
// hash tags. A beneficiary's keys carry the tag of its partition ("{p3}"), and
// so do the aggregates a change of them updates, kept once per partition and
// summed on read: everything one script or transaction changes is then in one
// Redis Cluster slot. A partition's instance (libs/bus) is the one writing them.
type Partitions int

// Of is the hash tag of member's partition, e.g. "{p3}".
func (n Partitions) Of(member string) string { return "{" + bus.Partition(member, int(n)) + "}" }

// All lists every partition's hash tag, "{p0}" first.
func (n Partitions) All() []string {
	toks := bus.PartitionTokens(max(int(n), 1))
	out := make([]string, len(toks))
	for i, p := range toks {
		out[i] = "{" + p + "}"
	}
	return out
}
