// Command deploycheck validates emtm's deployment files without a cluster or
// a Docker engine: it renders deploy/ with kustomize and decodes every
// resource strictly into its Kubernetes API type (an unknown or misspelt
// field fails), checks what emtm's deployments must have (probes, resource
// requests, non-root, a three-node NATS syncing every write, R3 streams), and
// loads docker-compose.yml with the Compose specification's own loader.
//
//	go run . -root ../..      (make deploy-check)
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	root := flag.String("root", "../..", "the repository's root")
	flag.Parse()
	n, err := CheckKustomize(*root + "/deploy")
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploy/ (kustomize):", err)
		os.Exit(1)
	}
	fmt.Printf("deploy/: %d Kubernetes resources rendered and valid\n", n)
	s, err := CheckCompose(*root + "/docker-compose.yml")
	if err != nil {
		fmt.Fprintln(os.Stderr, "docker-compose.yml:", err)
		os.Exit(1)
	}
	fmt.Printf("docker-compose.yml: %d services valid\n", s)
}
