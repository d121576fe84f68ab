# Parley — see README.md. Every target works on a fresh machine with Go installed.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 60s

.PHONY: run chat test bench build fuzz lint check-config clean

## run: Parley on the console with SQLite (and the offline demo model unless OPENAI_API_KEY or llm.base_url is set)
run:
	$(GO) run ./cmd/parley run

## chat: the console only, even when Slack or Discord is enabled in config.toml
chat:
	$(GO) run ./cmd/parley chat

## test: vet, then every test with the race detector
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

## bench: Go benchmarks and the bench/ harness (numbers go into BENCHMARKS.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench

## build: a static binary in bin/parley
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/parley ./cmd/parley

## fuzz: each fuzz target for FUZZTIME (default 60s)
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## lint: gofmt, go vet and staticcheck
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

check-config:
	$(GO) run ./cmd/parley check-config

clean:
	rm -rf bin

## install: binary, systemd unit and config (see README, "Running as a service")
include systemd/install.mk
