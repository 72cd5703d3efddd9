# mosip-crvs-bridge — the two commands a newcomer needs are `make run` and
# `make test`; `make help` lists the rest.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BIN     := $(ROOT)/.bin
export PATH := $(BIN):$(PATH)

# Pinned code generators, built from the Go module proxy into .bin/.
BUF_VERSION                 := v1.75.0
PROTOC_GEN_GO_VERSION       := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION  := v1.6.2
GRPC_GATEWAY_VERSION        := v2.33.0

# Every module of the workspace, so nobody has to remember them.
MODULES = $(shell go list -m -f '{{.Dir}}')

GO_TEST_FLAGS ?= -race -count=1 -timeout 10m

# Production images and `make bench` use Go's BoringCrypto mode
# (GOEXPERIMENT=boringcrypto, needs cgo): its RSA private-key operations —
# the partner key signing every IDA request and decrypting every credential —
# take about 0.6 ms on a 2-core machine against about 1.0 ms for the pure-Go
# crypto/rsa. `make test` runs the crypto packages in both modes. CRYPTO=
# (empty) uses Go's own crypto everywhere; without gcc it is the default.
CRYPTO     ?= $(if $(shell command -v gcc 2>/dev/null),boringcrypto,)
CRYPTO_ENV := $(if $(CRYPTO),GOEXPERIMENT=$(CRYPTO) CGO_ENABLED=1,)
# With cgo, OpenSSL 3 (libcrypto; headers from libssl-dev) does those two
# private-key operations when its headers are found: about 0.27 ms instead
# of BoringCrypto's 0.6 ms (pkg/mosipcrypto/rsa.go).
# OPENSSL= (empty) leaves it to crypto/rsa.
# Probed once per make run (a plain ?= would run gcc at every use).
ifeq ($(origin OPENSSL),undefined)
OPENSSL    := $(if $(CRYPTO),$(shell printf '\043include <openssl/evp.h>\nint main(void){return OPENSSL_VERSION_MAJOR < 3;}\n' | gcc -x c - -lcrypto -o /dev/null 2>/dev/null && echo openssl),)
endif
CRYPTO_TAGS := $(if $(OPENSSL),-tags openssl,)
BENCH         ?= .
BENCH_FLAGS   ?= -run '^$$' -bench '$(BENCH)' -benchmem -benchtime 1s -count 1

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## Start the whole system on this machine with the sandbox (no Redis or Postgres needed).
	@mkdir -p $(BIN)
	@go build -o $(BIN)/bridge-dev ./sandbox/cmd/bridge-dev
	@go build -o $(BIN)/bridgectl ./sandbox/cmd/bridgectl
	@exec $(BIN)/bridge-dev

.PHONY: test
test: test-deps ## Install/start what the tests need (Redis, Postgres), then run every module's tests.
	@for m in $(MODULES); do \
	  echo "== go test $${m#$(ROOT)/}"; \
	  (cd $$m && go test $(GO_TEST_FLAGS) ./...) || exit 1; \
	done
	@if [ -n "$(CRYPTO)" ]; then \
	  echo "== go test the crypto packages with GOEXPERIMENT=$(CRYPTO) $(CRYPTO_TAGS) (what production images run)"; \
	  (cd pkg && $(CRYPTO_ENV) go test $(CRYPTO_TAGS) -count=1 ./mosipcrypto/... ./ldproof/...) && \
	  (cd services/esignet-verify && $(CRYPTO_ENV) go test $(CRYPTO_TAGS) -count=1 ./internal/ida/... ./internal/esignet/...) && \
	  (cd services/notification && $(CRYPTO_ENV) go test $(CRYPTO_TAGS) -count=1 ./internal/credential/...); \
	fi

.PHONY: test-deps
test-deps: ## Make sure Redis and Postgres are installed and running (Debian/Ubuntu packages).
	@bash deploy/scripts/ensure-test-services.sh

.PHONY: bench
bench: ## Run the benchmarks (BoringCrypto as in production unless CRYPTO= is given).
	@echo "crypto: $(if $(CRYPTO),GOEXPERIMENT=$(CRYPTO),Go's own crypto)$(if $(OPENSSL), with OpenSSL for the RSA private key,)"
	@for m in $(MODULES); do \
	  (cd $$m && $(CRYPTO_ENV) go test $(CRYPTO_TAGS) $(BENCH_FLAGS) ./... | grep -Ev '^(ok|PASS|\?)' ) || true; \
	done

.PHONY: fuzz
FUZZTIME ?= 20s
fuzz: ## Run every fuzz target for FUZZTIME each (FUZZ=pattern narrows; seed corpora also run in `make test`).
	@FUZZTIME=$(FUZZTIME) FUZZ='$(FUZZ)' bash deploy/scripts/fuzz.sh

.PHONY: build
build: ## Build every binary into bin/.
	@mkdir -p bin
	go build -o bin/ ./gateway/cmd/gateway ./services/auth-token/cmd/auth-token ./services/packet/cmd/packet \
	  ./services/esignet-verify/cmd/esignet-verify ./services/notification/cmd/notification \
	  ./sandbox/cmd/bridge-dev ./sandbox/cmd/bridgectl
	@for m in $(MODULES); do (cd $$m && GOWORK=off go build ./...) || { echo "GOWORK=off build failed in $$m"; exit 1; }; done

.PHONY: tools
tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2 ## Install the pinned generators into .bin/.

# Each tool is rebuilt when its pinned version changes (the stamp file names it).
$(BIN)/buf: $(BIN)/.buf-$(BUF_VERSION)
$(BIN)/.buf-$(BUF_VERSION):
	@mkdir -p $(BIN) && rm -f $(BIN)/.buf-*
	GOBIN=$(BIN) GOWORK=off go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@touch $@
$(BIN)/protoc-gen-go: $(BIN)/.protoc-gen-go-$(PROTOC_GEN_GO_VERSION)
$(BIN)/.protoc-gen-go-$(PROTOC_GEN_GO_VERSION):
	@mkdir -p $(BIN) && rm -f $(BIN)/.protoc-gen-go-v*
	GOBIN=$(BIN) GOWORK=off go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@touch $@
$(BIN)/protoc-gen-go-grpc: $(BIN)/.protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/.protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION):
	@mkdir -p $(BIN) && rm -f $(BIN)/.protoc-gen-go-grpc-*
	GOBIN=$(BIN) GOWORK=off go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@touch $@
$(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2: $(BIN)/.grpc-gateway-$(GRPC_GATEWAY_VERSION)
$(BIN)/.grpc-gateway-$(GRPC_GATEWAY_VERSION):
	@mkdir -p $(BIN) && rm -f $(BIN)/.grpc-gateway-*
	GOBIN=$(BIN) GOWORK=off go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION) \
	  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
	@touch $@

GENERATED = proto gateway/openapi

.PHONY: generate
generate: tools ## Regenerate Go code and OpenAPI from the protos.
	buf format -w
	buf lint
	find proto -name '*.pb.go' -o -name '*.pb.gw.go' | xargs -r rm -f
	rm -f gateway/openapi/*.swagger.json
	buf generate

.PHONY: generate-check
generate-check: generate ## Regenerate and fail if anything differs from what is committed.
	@if [ -n "$$(git status --porcelain -- $(GENERATED) buf.yaml buf.gen.yaml)" ]; then \
	  echo "generated code is out of date; run 'make generate' and commit:"; \
	  git status --porcelain -- $(GENERATED); git --no-pager diff --stat -- $(GENERATED); exit 1; \
	fi
	@echo "generated code is up to date"

.PHONY: lint
lint: tools ## go vet, gofmt, buf lint and buf format check.
	buf lint
	buf format --diff --exit-code
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do echo "== go vet $${m#$(ROOT)/}"; (cd $$m && go vet ./...) || exit 1; done
	@if [ -n "$(OPENSSL)" ]; then echo "== go vet pkg/mosipcrypto $(CRYPTO_TAGS)"; (cd pkg && CGO_ENABLED=1 go vet $(CRYPTO_TAGS) ./mosipcrypto/) || exit 1; fi

.PHONY: tidy
tidy: ## go mod tidy in every module.
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done

.PHONY: clean
clean: ## Remove build outputs (keeps .bin tools).
	rm -rf bin .run
