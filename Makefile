# paas: build, test and benchmark. `make help` lists the targets.
GO        ?= go
BIN       := bin/paas
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
TESTFLAGS ?= -count=1 -timeout 45m
# A count, not a duration: Go 1.26's fuzzing coordinator can report a bare
# "context deadline exceeded" when a -fuzztime duration ends mid-run
# (go.dev/issue/75804); a count has no deadline to race.
FUZZTIME  ?= 20000x

.PHONY: help build test test-short bench bench-go fuzz lint lint-tools buildkitd demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/paas
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/paas

# Vendored modules (a fixture app's vendor/) are others' code, kept as
# `go mod vendor` wrote it.
GOFILES = $$(git ls-files '*.go' ':(exclude)**/vendor/**')

# golangci-lint, pinned: findings differ between releases, so `make lint`
# runs this exact version (configured by .golangci.yml) and nothing else.
# The newest release that builds and runs with the Go in go.mod.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT_PKG     := github.com/golangci/golangci-lint/v2/cmd/golangci-lint
# Where `go install` puts it; override to use another copy of the same version.
GOLANGCI_LINT ?= $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)/golangci-lint

lint: ## gofmt, go vet and golangci-lint (install it with `make lint-tools`)
	@test -z "$$(gofmt -l $(GOFILES))" || { gofmt -l $(GOFILES); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	@v=$$($(GOLANGCI_LINT) version --short 2>/dev/null); \
	test "v$$v" = "$(GOLANGCI_LINT_VERSION)" || { \
	  echo "lint: golangci-lint $(GOLANGCI_LINT_VERSION) is needed at $(GOLANGCI_LINT) (found: $${v:-none})."; \
	  echo "lint: install it with: make lint-tools"; \
	  echo "lint:   (that is: $(GO) install $(GOLANGCI_LINT_PKG)@$(GOLANGCI_LINT_VERSION))"; \
	  exit 1; }
	$(GOLANGCI_LINT) run ./...

lint-tools: ## install the pinned golangci-lint (a no-op when it is already there)
	@v=$$($(GOLANGCI_LINT) version --short 2>/dev/null); \
	if [ "v$$v" = "$(GOLANGCI_LINT_VERSION)" ]; then \
	  echo "golangci-lint $(GOLANGCI_LINT_VERSION) already installed at $(GOLANGCI_LINT)"; \
	else \
	  echo "installing golangci-lint $(GOLANGCI_LINT_VERSION)"; \
	  $(GO) install $(GOLANGCI_LINT_PKG)@$(GOLANGCI_LINT_VERSION); \
	fi

test: lint buildkitd ## run every test tier (needs root for the containerd, BuildKit and rootless-user tiers; see .ci/run)
	$(GO) test $(TESTFLAGS) ./...

buildkitd: ## build and install the pinned buildkitd the BuildKit tests start (a no-op when it is already there)
	GO=$(GO) ./scripts/install-buildkitd

# testenv.Require skips, with the reason, every test that needs the Debian
# stack, root, a containerd daemon or the network; `test` runs them all.
test-short: ## the tests an ordinary user can run offline: no root, network, stack or daemon needed
	$(GO) test -short -count=1 ./...

# BENCHFLAGS: --quick (small inputs, one run: a smoke test), --runs N, --go.
bench: ## paas build beside crane, umoci and buildah on generated inputs, and the proxy beside nginx (as root; BENCHFLAGS=--quick)
	GO=$(GO) ./scripts/bench $(BENCHFLAGS)

bench-go: ## the Go micro-benchmarks (go test -bench ./...)
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## run every fuzz target (14) for FUZZTIME executions each (20000x), seeded from testdata/fuzz
	@targets=$$(grep -rHoE '^func Fuzz[A-Za-z0-9]+' --include='*_test.go' . | sed -E 's#^(.*)/[^/:]*:func #\1 #' | sort -u); \
	echo "$$(echo "$$targets" | wc -l) fuzz targets, $(FUZZTIME) each"; \
	echo "$$targets" | while read -r pkg t; do \
	  echo "fuzz $$t in $$pkg"; \
	  $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

demo: build ## build the sample app on a fresh Debian stack and serve it on :8080
	./scripts/demo

clean: ## remove build outputs
	rm -rf bin
