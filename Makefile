# emtm — see README.md. Every target works on a fresh Debian/Ubuntu machine with Go.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Go modules of the workspace (go.work has no root module, so ./... does not work here).
MODULES := libs services/ingestion services/risk-scoring services/intervention-scheduling services/console \
           services/prescriber-outreach services/payment-reconciliation services/emtm
PKGS = $(addsuffix /...,$(addprefix ./,$(MODULES)))
SERVICES := ingestion risk-scoring intervention-scheduling prescriber-outreach payment-reconciliation

# Code generators at pinned versions, built once into a cache outside the checkout.
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
TOOLS_DIR ?= $(HOME)/.cache/emtm/tools
BUF := $(TOOLS_DIR)/buf-$(BUF_VERSION)/buf
GEN_GO := $(TOOLS_DIR)/protoc-gen-go-$(PROTOC_GEN_GO_VERSION)
GEN_GO_GRPC := $(TOOLS_DIR)/protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION)
# Jaeger v2 all-in-one, pinned as a Go tool in tools/jaeger/go.mod (a five-minute build, done once).
JAEGER_VERSION := v1.76.0
JAEGER := $(TOOLS_DIR)/jaeger-$(JAEGER_VERSION)/jaeger
export EMTM_JAEGER := $(JAEGER)

# An execution count, not a duration: with a duration, Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" at the deadline (golang/go#75804, fixed in 1.27).
FUZZTIME ?= 50000x
FUZZLOG ?= $(or $(TMPDIR),/tmp)/emtm-fuzz.log
RUN_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every binary into bin/
	@mkdir -p bin
	@echo "building into bin/: $(SERVICES) console emtm emtmctl (the first build takes a minute or two; later ones seconds)"
	@for s in $(SERVICES) console emtm emtmctl; do \
	  pkg=./services/$$s/cmd/$$s; case $$s in emtm|emtmctl) pkg=./services/emtm/cmd/$$s;; esac; \
	  printf '  %-24s' "$$s"; start=$$(date +%s); go build -o bin/$$s $$pkg || exit 1; echo "$$(( $$(date +%s) - start )) s"; \
	done
	@echo "built: $$(ls bin | tr '\n' ' ')"

.PHONY: run
run: need-redis build ## run everything locally: embedded NATS, redis-server, five services, the console on http://127.0.0.1:8080, sample population
	bin/emtm run $(RUN_ARGS)

.PHONY: test
test: need-redis need-chromium fmt-check vet $(JAEGER) ## unit and integration tests (real NATS in-process, real redis-server, Jaeger, headless chromium)
	go test -race -count=1 $(PKGS)

.PHONY: test-short
test-short: ## the edit-test loop: unit and pure domain tests only (-short skips every test that starts servers; under a minute)
	go test -short -count=1 $(PKGS)

# What the tests need from the machine: installed when missing and root, otherwise the command to run
# (libs/redisproc.EnsureInstalled, the same code as `emtm run`; built only when redis-server is missing).
.PHONY: need-redis
need-redis:
	@command -v redis-server >/dev/null 2>&1 || go run ./libs/redisproc/cmd/need-redis

# The console's browser tests drive Debian's chromium headless (chromedp); installed when missing and root.
.PHONY: need-chromium
need-chromium:
	@command -v chromium >/dev/null 2>&1 || [ -n "$$EMTM_CHROMIUM" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian's package; the console's browser tests drive it headless)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
	      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; } \
	      || { echo "could not install chromium: run  apt-get install -y chromium"; exit 1; }; \
	  else \
	    echo "the console's browser tests need chromium: run  sudo apt-get install -y chromium  (or set EMTM_CHROMIUM to a Chromium binary)"; exit 1; \
	  fi; }

.PHONY: console-assets
console-assets: ## re-vendor the console's htmx and uPlot from npm (versions pinned in services/console/package.json) with their licenses and checksums
	services/console/vendor-assets.sh

.PHONY: console-screenshots
console-screenshots: need-redis need-chromium $(JAEGER) ## retake docs/console/*.png: the console in headless chromium against the stack with the sample loaded
	EMTM_SCREENSHOT_DIR=$(CURDIR)/docs/console go test -count=1 -run TestScreenshotsOfEveryPage ./services/emtm/internal/consoletest

# The CMR written summary's pages in the docs are rendered by Debian's poppler-utils (pdftoppm).
.PHONY: need-poppler
need-poppler:
	@command -v pdftoppm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing poppler-utils (Debian's package; pdftoppm renders the CMR summary's pages for the docs)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils >/dev/null \
	      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends poppler-utils >/dev/null; } \
	      || { echo "could not install poppler-utils: run  apt-get install -y poppler-utils"; exit 1; }; \
	  else \
	    echo "rendering the CMR summary's pages needs pdftoppm: run  sudo apt-get install -y poppler-utils"; exit 1; \
	  fi; }

.PHONY: cmr-pages
cmr-pages: need-redis need-poppler ## rewrite docs/cmr/: a CMR's written summary from the stack (PDF, HTML) and its pages as PNG
	rm -f docs/cmr/page-*.png
	EMTM_CMR_DIR=$(CURDIR)/docs/cmr go test -count=1 -run TestACompletedCMRIsWrittenUpInTheStandardizedFormat ./services/emtm/internal/stack
	pdftoppm -r 60 -png docs/cmr/summary.pdf docs/cmr/page

STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_DIR)/staticcheck-$(STATICCHECK_VERSION)/staticcheck

$(STATICCHECK):
	@mkdir -p $(dir $@)
	@echo "building staticcheck $(STATICCHECK_VERSION) (once; it is cached in $(dir $@))"
	GOBIN=$(dir $@) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: lint
lint: $(STATICCHECK) ## staticcheck (pinned) over every module
	$(STATICCHECK) $(PKGS)

# buf breaking: on a branch, against main; on main itself (CI), against the commit before.
BREAKING_AGAINST ?=
.PHONY: breaking
breaking: $(BUF) ## the protobuf contracts stay wire- and source-compatible (buf breaking, FILE rules)
	@against='$(BREAKING_AGAINST)'; \
	if [ -z "$$against" ]; then \
	  main=$$(git rev-parse -q --verify refs/heads/main || true); \
	  if [ -n "$$main" ] && [ "$$main" != "$$(git rev-parse HEAD)" ]; then against='.git#branch=main'; \
	  elif git rev-parse -q --verify HEAD~1 >/dev/null; then against='.git#ref=HEAD~1'; \
	  else echo "buf breaking: no earlier commit to compare with"; exit 0; fi; \
	fi; \
	echo "buf breaking against $$against"; $(BUF) breaking --against "$$against"

.PHONY: certs
certs: build ## write a development CA (key in var/ca, 0600), server and client certificates into var/certs (gRPC TLS and mTLS)
	bin/emtmctl certs --dir var/certs --ca-key-dir var/ca
	@# development service and client keys only: readable by the non-root user of docker compose's
	@# containers. The CA key stays in var/ca, mode 0600, and is never mounted.
	chmod 0644 var/certs/*-key.pem

.PHONY: deploy-check
deploy-check: ## validate deploy/ (kustomize, strict Kubernetes types, emtm's rules) and docker-compose.yml (Compose loader)
	cd tools/deploycheck && gofmt -l . | (! grep .) && GOWORK=off go vet ./ && GOWORK=off go test -count=1 ./ && GOWORK=off go run . -root ../..

.PHONY: test-adversarial
test-adversarial: ## only the attacks of issue 12 (A1-A12) against the services as processes with mTLS; each refused, nothing changed (also in make test)
	go test -count=1 -v -run . ./services/emtm/internal/adversarial

.PHONY: test-faults
test-faults: ## only the fault tests: services, redis-server and NATS crash mid-load; nothing lost or doubled (also in make test)
	go test -count=1 -v -run . ./services/emtm/internal/faults

.PHONY: test-scale
test-scale: ## only the scale-out tests: three NATS nodes, a three-master Redis Cluster, two instances of each service; one of each killed -9, a third added; same outcome, order kept, hand-over times printed (also in make test)
	go test -count=1 -v -run 'TestScale|TestFaultFreeBaseline' ./services/emtm/internal/faults

.PHONY: vet
vet: ## go vet every module
	go vet $(PKGS)

.PHONY: fmt-check
fmt-check: ## fail when gofmt would change a file
	@out=$$(gofmt -l $(MODULES) | grep -v '\.pb\.go$$' || true); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

BENCH ?= .
BENCHTIME ?= 3000x
.PHONY: bench
bench: bench-pipeline bench-units bench-console ## the pipeline benchmark, then the unit benchmarks (minutes; not part of make test)

BENCH_CLAIMS ?= 200000
BENCH_RATE ?= 5000
.PHONY: bench-pipeline
bench-console: need-redis ## every console page rendered for 10,000 members (loaded first, about a minute) against one gRPC call of the same run
	go test -run='^$$' -bench=BenchmarkConsolePages -benchtime=20x ./services/emtm/internal/consoletest

bench-pipeline: build ## BENCH_CLAIMS claims through the whole pipeline vs the raw bus rate, durable then replay mode; latency at BENCH_RATE claims/s
	bin/emtm bench --claims $(BENCH_CLAIMS) --rate $(BENCH_RATE)
	bin/emtm bench --replay --claims $(BENCH_CLAIMS) --rate $(BENCH_RATE)

.PHONY: bench-units
bench-units: ## benchmarks of ingestion and risk scoring, one core, each with its baseline from the same run
	go test -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -cpu 1 -count=3 ./services/ingestion/internal/intake
	go test -run='^$$' -bench='$(BENCH)' -benchtime=20000x -cpu 1 -count=3 ./services/risk-scoring/internal/assess
	go test -run='^$$' -bench='$(BENCH)' -benchtime=500x -cpu 1 -count=3 ./services/risk-scoring/internal/cmr
	go test -run='^$$' -bench='$(BENCH)' -benchtime=10x -cpu 1 -count=3 ./services/emtm/internal/population

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME executions each (default 50000x)
	@set -e; for dir in $(MODULES); do \
	  for pkg in $$(cd $$dir && go list ./...); do \
	    (cd $$dir && for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	      echo "fuzz $$pkg $$f"; go test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg >$(FUZZLOG) 2>&1 || { cat $(FUZZLOG); echo "a failing input is kept under $$dir/<package>/testdata/fuzz/$$f: commit it with the fix"; exit 1; }; done) || exit 1; \
	  done; \
	done

$(JAEGER):
	@mkdir -p $(dir $@)
	@echo "building Jaeger $(JAEGER_VERSION) (once; it is cached in $(dir $@))"
	cd tools/jaeger && GOWORK=off go build -o $@ github.com/jaegertracing/jaeger/cmd/jaeger

.PHONY: jaeger
jaeger: $(JAEGER) ## build the pinned Jaeger all-in-one into TOOLS_DIR

.PHONY: dashboard
dashboard: $(JAEGER) ## run Jaeger locally (OTLP 127.0.0.1:4317, API and UI http://127.0.0.1:16686); make run sends traces to it
	@echo "Jaeger: OTLP/gRPC on 127.0.0.1:4317, query API and UI on http://127.0.0.1:16686 (Ctrl-C stops)"
	@ui=; if [ -n "$$JAEGER_UI_ASSETS" ]; then ui="--set=extensions.jaeger_query.ui.assets_path=$$JAEGER_UI_ASSETS"; fi; \
	$(JAEGER) --config=file:deploy/jaeger/jaeger.yaml $$ui

$(BUF):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(GEN_GO):
	@mkdir -p $(TOOLS_DIR)/tmp-go
	GOBIN=$(TOOLS_DIR)/tmp-go go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	mv $(TOOLS_DIR)/tmp-go/protoc-gen-go $@

$(GEN_GO_GRPC):
	@mkdir -p $(TOOLS_DIR)/tmp-grpc
	GOBIN=$(TOOLS_DIR)/tmp-grpc go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	mv $(TOOLS_DIR)/tmp-grpc/protoc-gen-go-grpc $@

.PHONY: tools
tools: $(BUF) $(GEN_GO) $(GEN_GO_GRPC) ## install the pinned code generators into TOOLS_DIR

.PHONY: generate
generate: tools ## buf lint, then regenerate libs/gen from proto/ with local plugins (libs/gen/enums is written by hand and kept)
	$(BUF) lint
	@bin=$$(mktemp -d); ln -s $(GEN_GO) $$bin/protoc-gen-go; ln -s $(GEN_GO_GRPC) $$bin/protoc-gen-go-grpc; \
	find libs/gen -name '*.pb.go' -delete && PATH=$$bin:$$PATH $(BUF) generate && rm -rf $$bin

.PHONY: check-generate
check-generate: generate ## fail when the committed generated code differs from proto/
	@git diff --exit-code --stat -- libs/gen || { echo "libs/gen is out of date: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- libs/gen)" || { git status --short -- libs/gen; echo "untracked generated files: run 'make generate' and commit"; exit 1; }

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done

.PHONY: clean
clean: ## remove binaries (keeps var/, the local data)
	rm -rf bin

.PHONY: clean-var
clean-var: ## remove the local data of `make run` (NATS streams, Redis, log)
	rm -rf var
