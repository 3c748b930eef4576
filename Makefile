# paas: build, test and benchmark. `make help` lists the targets.
GO        ?= go
BIN       := bin/paas
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
TESTFLAGS ?= -count=1 -timeout 45m

.PHONY: help build test test-short bench fuzz lint demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/paas
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/paas

# Vendored modules (a fixture app's vendor/) are others' code, kept as
# `go mod vendor` wrote it.
GOFILES = $$(git ls-files '*.go' ':(exclude)**/vendor/**')

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $(GOFILES))" || { gofmt -l $(GOFILES); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

test: lint ## run every test tier (needs root for the containerd and rootless-user tiers; see .ci/run)
	$(GO) test $(TESTFLAGS) ./...

test-short: ## unit tests only, no stack, sandbox or daemon
	$(GO) test -short -count=1 ./...

bench: ## benchmarks (layers, proxy)
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## run each fuzz target for a short while
	@for t in $$(grep -rhoE '^func Fuzz[A-Za-z]+' --include='*_test.go' . | sed 's/func //' | sort -u); do \
	  pkg=$$(grep -rlE "^func $$t\(" --include='*_test.go' . | head -1 | xargs dirname); \
	  echo "fuzz $$t in $$pkg"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime 20s $$pkg || exit 1; \
	done

demo: build ## build the sample app on a fresh Debian stack and serve it on :8080
	./scripts/demo

clean: ## remove build outputs
	rm -rf bin
