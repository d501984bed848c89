# Bulwark — make targets (contract: run, test, build, bench; see ARCHITECTURE.md).
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
TOOLS := $(CURDIR)/.tools
PROTOC_GEN_GO_VERSION := $(shell cd libs && $(GO) list -m -f '{{.Version}}' google.golang.org/protobuf)
PROTOC_GEN_VTPROTO_VERSION := $(shell cd libs && $(GO) list -m -f '{{.Version}}' github.com/planetscale/vtprotobuf)
STATICCHECK_VERSION := v0.8.2
MODULES := libs libs/checks libs/enforce/leader $(wildcard services/*)
SERVICES := shipper aggregator decider sidecar cfsync chsink fwsync gate console
PKGS := ./libs/... ./libs/checks/... ./libs/enforce/leader/... $(addsuffix /...,$(addprefix ./,$(wildcard services/*)))

.PHONY: all build cli run test test-short bench bench-http generate docs lint fmt vet tidy clean

all: build

## build: every binary into bin/
build:
	@mkdir -p $(BIN)
	@for s in $(SERVICES); do \
	  if ls services/$$s/*.go >/dev/null 2>&1; then \
	    echo "go build bin/bulwark-$$s"; \
	    CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/bulwark-$$s ./services/$$s || exit 1; \
	  fi; \
	done
	@echo "go build bin/bulwark"
	@CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/bulwark ./services/bulwark

## run: the whole pipeline on one machine, on the embedded Kafka broker
run: cli
	$(BIN)/bulwark dev --data $(CURDIR)/.bulwark-dev

## cli: only bin/bulwark (all that make run needs)
cli:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/bulwark ./services/bulwark

## test: every module's tests (what .ci/run calls)
test:
	$(GO) test -count=1 -timeout 20m $(PKGS)

## test-short: the unit tests only, without the real servers
test-short:
	$(GO) test -count=1 -short $(PKGS)

## bench: the benchmarks; writes BENCHMARKS.md
bench: build
	./scripts/bench.sh

## bench-http: the sidecar's HTTP API (/v1/authz) against Redis GET, in 5 rounds
## (BENCH_RUNS, WRK_DURATION); prints the table (BENCHMARKS.md, "Verdict sidecar").
bench-http:
	SIDECAR_BENCH_HTTP_ONLY=1 ./scripts/bench/sidecar.sh

## generate: Go code from schemas/proto (committed; lint checks it is current)
# RequestEvent (and its DeadLetter) also get vtprotobuf's generated
# marshalling: the shipper encodes one per log line, and the reflection-based
# marshal was the largest cost of a shipped line (BENCHMARKS.md, shipper).
generate: $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-vtproto
	protoc --plugin=protoc-gen-go=$(TOOLS)/protoc-gen-go \
	  -I schemas/proto \
	  --go_out=libs --go_opt=module=github.com/bulwarkhq/bulwark/libs \
	  schemas/proto/bulwark/v1/*.proto
	protoc --plugin=protoc-gen-go-vtproto=$(TOOLS)/protoc-gen-go-vtproto \
	  -I schemas/proto \
	  --go-vtproto_out=libs --go-vtproto_opt=module=github.com/bulwarkhq/bulwark/libs,features=marshal+size \
	  schemas/proto/bulwark/v1/request_event.proto

$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(TOOLS)/protoc-gen-go-vtproto:
	GOBIN=$(TOOLS) $(GO) install github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto@$(PROTOC_GEN_VTPROTO_VERSION)

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## docs: the README's variable tables, generated from each setting's declaration
docs: cli
	$(BIN)/bulwark config readme README.md

## lint: gofmt, go vet, staticcheck, and generated code and docs up to date
lint: generate cli $(TOOLS)/staticcheck
	@test -z "$$(gofmt -l libs services)" || { gofmt -l libs services; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(TOOLS)/staticcheck $(PKGS)
	$(BIN)/bulwark config readme --check README.md
	@git diff --exit-code -- libs/platform/eventpb || { echo "generated code in libs/platform/eventpb is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git ls-files -ci --exclude-standard 2>/dev/null)" || { git ls-files -ci --exclude-standard; echo "tracked files that .gitignore excludes (build outputs?): git rm --cached them"; exit 1; }

fmt:
	gofmt -w libs services

tidy:
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy) || exit 1; done

clean:
	rm -rf $(BIN) .bulwark-dev
