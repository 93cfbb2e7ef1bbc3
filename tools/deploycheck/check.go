package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// CheckKustomize renders dir and validates every resource; it returns how many there are.
func CheckKustomize(dir string) (int, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return 0, fmt.Errorf("kustomize build: %w", err)
	}
	var errs []error
	var nats *appsv1.StatefulSet
	var common *corev1.ConfigMap
	var natsConf string
	deployments := 0
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			return 0, err
		}
		id := r.GetKind() + "/" + r.GetName()
		fail := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{id}, a...)...))
		}
		var pod *corev1.PodSpec
		switch r.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict(b, &d); err != nil {
				fail("%v", err)
				continue
			}
			pod = &d.Spec.Template.Spec
			deployments++
			// Every service runs as several instances (partitions pinned to one
			// at a time, docs/scaling.md): losing a pod moves its partitions.
			if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
				fail("at least two replicas are required: one pod's loss moves its partitions to the other")
			}
			if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
				fail("strategy Recreate stops every instance at once; use RollingUpdate")
			}
		case "StatefulSet":
			var s appsv1.StatefulSet
			if err := yaml.UnmarshalStrict(b, &s); err != nil {
				fail("%v", err)
				continue
			}
			pod = &s.Spec.Template.Spec
			if s.Name == "nats" {
				nats = &s
			}
		case "Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict(b, &j); err != nil {
				fail("%v", err)
				continue
			}
			if err := checkContainers(j.Spec.Template.Spec, false); err != nil {
				fail("%v", err)
			}
		case "Service":
			var s corev1.Service
			if err := yaml.UnmarshalStrict(b, &s); err != nil {
				fail("%v", err)
			}
			if len(s.Spec.Ports) == 0 || len(s.Spec.Selector) == 0 {
				fail("a Service needs ports and a selector")
			}
		case "ConfigMap":
			var c corev1.ConfigMap
			if err := yaml.UnmarshalStrict(b, &c); err != nil {
				fail("%v", err)
				continue
			}
			if strings.HasPrefix(c.Name, "emtm-common") {
				common = &c
			}
			if strings.HasPrefix(c.Name, "nats-config") {
				natsConf = c.Data["nats.conf"]
				if !strings.Contains(c.Data["auth.conf"], "authorization {") {
					fail("auth.conf holds no authorization block")
				}
			}
		case "Namespace":
			var n corev1.Namespace
			if err := yaml.UnmarshalStrict(b, &n); err != nil {
				fail("%v", err)
			}
		default:
			fail("a kind deploycheck does not know; add its type")
		}
		if pod != nil {
			if err := checkContainers(*pod, true); err != nil {
				fail("%v", err)
			}
		}
	}
	switch {
	case nats == nil:
		errs = append(errs, errors.New("no StatefulSet nats"))
	case nats.Spec.Replicas == nil || *nats.Spec.Replicas != 3:
		errs = append(errs, errors.New("StatefulSet/nats: a cluster of three is required (R3 streams)"))
	}
	if !strings.Contains(natsConf, "sync_interval: always") || !strings.Contains(natsConf, "include ./auth.conf") {
		errs = append(errs, errors.New("nats.conf: sync_interval: always and include ./auth.conf are required"))
	}
	if common == nil || common.Data["EMTM_STREAM_REPLICAS"] != "3" {
		errs = append(errs, errors.New("ConfigMap emtm-common: EMTM_STREAM_REPLICAS=3 is required"))
	}
	if common == nil || common.Data["EMTM_TLS_CLIENT_CA"] == "" || common.Data["EMTM_TLS_CERT"] == "" {
		errs = append(errs, errors.New("ConfigMap emtm-common: EMTM_TLS_CERT and EMTM_TLS_CLIENT_CA are required (mTLS on every service)"))
	}
	if deployments != 6 {
		errs = append(errs, fmt.Errorf("%d Deployments, want the five services and the console", deployments))
	}
	return len(m.Resources()), errors.Join(errs...)
}

// checkContainers: non-root, resource requests, and (long-running) probes.
func checkContainers(p corev1.PodSpec, longRunning bool) error {
	var errs []error
	if p.SecurityContext == nil || p.SecurityContext.RunAsNonRoot == nil || !*p.SecurityContext.RunAsNonRoot {
		errs = append(errs, errors.New("pod securityContext.runAsNonRoot: true is required"))
	}
	for _, c := range p.Containers {
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			errs = append(errs, fmt.Errorf("container %s: cpu and memory requests are required", c.Name))
		}
		if longRunning && (c.ReadinessProbe == nil || c.LivenessProbe == nil) {
			errs = append(errs, fmt.Errorf("container %s: readiness and liveness probes are required", c.Name))
		}
	}
	return errors.Join(errs...)
}

// RequiredSecrets are the variables docker-compose.yml must require, not default.
var RequiredSecrets = []string{"EMTM_TELEMETRY_HASH_KEY"}

// CheckCompose loads file with the Compose specification's loader (schema,
// interpolation, references) and checks emtm's services; it returns their count.
func CheckCompose(file string) (int, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(abs); err != nil {
		return 0, err
	}
	load := func(env ...string) (*types.Project, error) {
		opts, err := cli.NewProjectOptions([]string{abs}, cli.WithName("emtm"), cli.WithWorkingDirectory(filepath.Dir(abs)), cli.WithOsEnv, cli.WithEnv(env))
		if err != nil {
			return nil, err
		}
		return opts.LoadProject(context.Background())
	}
	// Secrets have no default in the file: loading without them must fail,
	// naming them (a public default would make pseudonyms reversible).
	var errs []error
	for _, secret := range RequiredSecrets {
		if os.Getenv(secret) != "" {
			continue
		}
		if _, err := load(); err == nil || !strings.Contains(err.Error(), secret) {
			errs = append(errs, fmt.Errorf("%s must be required (${%s:?...}), not defaulted: loading without it gave %v", secret, secret, err))
		}
	}
	var placeholders []string
	for _, secret := range RequiredSecrets {
		if os.Getenv(secret) == "" {
			placeholders = append(placeholders, secret+"=deploycheck-placeholder-secret")
		}
	}
	p, err := load(placeholders...)
	if err != nil {
		return 0, err
	}
	for _, name := range []string{"nats", "redis", "jaeger", "streams", "ingestion", "risk-scoring",
		"intervention-scheduling", "prescriber-outreach", "payment-reconciliation"} {
		s, ok := p.Services[name]
		if !ok {
			errs = append(errs, fmt.Errorf("service %s is missing", name))
			continue
		}
		if name == "jaeger" || name == "streams" {
			continue
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			errs = append(errs, fmt.Errorf("service %s: a healthcheck is required", name))
		}
		if name != "nats" && name != "redis" {
			if ca := s.Environment["EMTM_TLS_CLIENT_CA"]; ca == nil || *ca == "" {
				errs = append(errs, fmt.Errorf("service %s: EMTM_TLS_CLIENT_CA is required (mTLS on every service)", name))
			}
		}
	}
	if r := p.Services["redis"]; !slices.Contains(r.Command, "always") {
		errs = append(errs, errors.New("service redis: appendfsync always is required"))
	}
	return len(p.Services), errors.Join(errs...)
}
