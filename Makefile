# modelhub — see README.md. Every target works offline once the Go modules are cached.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PKG     := github.com/modelhub-ai/modelhub
LDFLAGS := -s -w -X $(PKG)/cmd/cli.Version=$(VERSION)
BIN     := bin/modelhub

.PHONY: build test install bench demo cross dist clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/modelhub

test:
	$(GO) vet ./...
	$(GO) test -race ./...

install:
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags "$(LDFLAGS)" ./cmd/modelhub

# Speed targets live in benchmarks, never in timed tests.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo:
	@echo "make demo: not available yet (it lands with the run command)"

cross:
	@echo "make cross: not available yet"

dist:
	@echo "make dist: not available yet"

clean:
	rm -rf bin dist
