// Package faults holds the fault tests (make test-faults): the five services
// as processes under a steady load of claims and encounters, while a service,
// redis-server or the NATS server crashes and comes back. The outcome must
// equal a fault-free run of the same input: nothing lost, nothing doubled.
package faults
