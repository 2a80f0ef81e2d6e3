# modelhub — see README.md. Every target works offline once the Go modules are cached.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PKG     := github.com/modelhub-ai/modelhub
LDFLAGS := -s -w -X $(PKG)/cmd/cli.Version=$(VERSION)
BIN     := bin/modelhub

.PHONY: build test install bench fuzz demo cross dist image clean conformance kube-conformance docs

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/modelhub

# The race detector's shadow memory makes peak RSS meaningless, so the one
# RSS bound (predict holds a 16 MiB engine answer and refuses 32 and 250 MiB
# ones in under 64 MiB, issue 21) runs again without -race, where it does not skip.
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...
	$(GO) test -count=1 -run '^TestRunner_largeAnswerRSS$$' ./internal/predict

# docs/commands: one page per command from its --help (a test fails when they differ).
docs:
	$(GO) test ./cmd/cli -run '^Test_commandDocs$$' -count=1 -update-docs

install:
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags "$(LDFLAGS)" ./cmd/modelhub

# Speed targets live in benchmarks, never in timed tests.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The conformance suite against the real modelhub engine: builds (about 4 minutes,
# root and mmdebstrap; installed with apt-get when missing) or reuses the engine image
# from ../shared/realengine, then drives the real binary through ./conformance.
conformance:
	@set -e; img=$$(scripts/realengine-image.sh); echo "real engine image: $$img"; \
	MODELHUB_REALENGINE_IMAGE=$$img $(GO) test -count=1 -timeout 25m -v ./conformance/

# The kubeconformance suite on a real one-node Kubernetes (v1.34.4) of its own on
# 127.0.0.1: builds the binaries from the Go module proxy (9 minutes cold on an idle
# 2-core machine, 58 on a loaded one; cached by version in $${MODELHUB_CACHE:-/var/cache/modelhub}/k8s), starts the
# cluster with its own containerd, runs ./kubeconformance and stops everything it
# started, also on failure or Ctrl-C. Needs root, containerd, runc, the CNI plugins,
# iptables (a loud skip without them; a failure under MODELHUB_REQUIRE_KUBE=1).
kube-conformance:
	scripts/kube-conformance.sh

# Fuzz targets: `make test` runs each one's seed corpus; `make fuzz` explores
# each for FUZZTIME.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/registry
	$(GO) test -run='^$$' -fuzz='^FuzzParseContentRange$$' -fuzztime=$(FUZZTIME) ./internal/fetch
	$(GO) test -run='^$$' -fuzz='^FuzzParseRetryAfter$$' -fuzztime=$(FUZZTIME) ./internal/fetch
	$(GO) test -run='^$$' -fuzz='^FuzzParseInit$$' -fuzztime=$(FUZZTIME) ./internal/config
	$(GO) test -run='^$$' -fuzz='^FuzzSafeDest$$' -fuzztime=$(FUZZTIME) ./internal/config
	$(GO) test -run='^$$' -fuzz='^FuzzParseModelConfig$$' -fuzztime=$(FUZZTIME) ./internal/config
	$(GO) test -run='^$$' -fuzz='^FuzzCheckRel$$' -fuzztime=$(FUZZTIME) ./internal/safepath
	$(GO) test -run='^$$' -fuzz='^FuzzFillConfig$$' -fuzztime=$(FUZZTIME) ./internal/scaffold
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeLossless$$' -fuzztime=$(FUZZTIME) ./internal/dicom
	$(GO) test -run='^$$' -fuzz='^FuzzReadHeader$$' -fuzztime=$(FUZZTIME) ./internal/dicom
	$(GO) test -run='^$$' -fuzz='^FuzzRead$$' -fuzztime=$(FUZZTIME) ./internal/ndarray
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/dicomseg
	$(GO) test -run='^$$' -fuzz='^FuzzWrite$$' -fuzztime=$(FUZZTIME) ./internal/dicomseg
	$(GO) test -run='^$$' -fuzz='^FuzzCheckMeta$$' -fuzztime=$(FUZZTIME) ./internal/bundle
	$(GO) test -run='^$$' -fuzz='^FuzzLine$$' -fuzztime=$(FUZZTIME) ./internal/termsafe

# The bundled demo model, end to end and offline: needs Docker and git. The demo
# model stays installed (and its image in Docker) so `bin/modelhub run demo` works
# again offline; DEMO_CLEAN=1 leaves nothing behind. Ports: API_PORT, UI_PORT
# (default modelhub's: 8000 and 8800, or the next free ones).
API_PORT   ?=
UI_PORT    ?=
DEMO_CLEAN ?=
demo: build
	$(GO) build -o bin/modelhub-demo ./demo/cmd/demo
	./bin/modelhub-demo -modelhub $(BIN) $(if $(API_PORT),-api-port $(API_PORT)) $(if $(UI_PORT),-ui-port $(UI_PORT)) $(if $(DEMO_CLEAN),-clean) $(DEMO_FLAGS)

# The release platforms. CGO is off: the binary is static and needs nothing on the host.
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64

# cross builds every platform and vets the code (tests included) for Windows and macOS,
# so a Linux-only call fails here.
cross:
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "build $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" \
			-o dist/cross/modelhub-$$os-$$arch$$ext ./cmd/modelhub; \
	done

# dist packs each platform's binary with README.md into a release archive
# (tar.gz; zip for Windows) and writes SHA256SUMS beside them.
dist: cross
	@set -e; rm -rf dist/release; mkdir -p dist/release; \
	for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; name=modelhub_$(VERSION)_$${os}_$${arch}; \
		rm -rf dist/stage/$$name; mkdir -p dist/stage/$$name; cp README.md dist/stage/$$name/; \
		if [ $$os = windows ]; then \
			cp dist/cross/modelhub-$$os-$$arch.exe dist/stage/$$name/modelhub.exe; \
			(cd dist/stage && $(GO) run ../../internal/tools/zipdir $$name ../release/$$name.zip); \
		else \
			cp dist/cross/modelhub-$$os-$$arch dist/stage/$$name/modelhub; \
			tar -C dist/stage -czf dist/release/$$name.tar.gz --owner=0 --group=0 $$name; \
		fi; \
	done; \
	cd dist/release && sha256sum *.tar.gz *.zip > SHA256SUMS && cat SHA256SUMS; \
	ls -l ../cross

# image builds the modelhub image (FROM scratch: the static binary, the host's CA
# certificates, user 65532) with no base image to pull, so it works offline. The
# release process pushes $(IMAGE):$(VERSION); `modelhub deploy` uses that name.
IMAGE    ?= ghcr.io/modelhub-ai/modelhub
CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt
DOCKER   ?= docker

image:
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/image/modelhub ./cmd/modelhub
	$(GO) run ./internal/tools/imagecontext -bin dist/image/modelhub -certs $(CA_CERTS) -version $(VERSION) \
		| $(DOCKER) build -t $(IMAGE):$(VERSION) -
	@echo "built $(IMAGE):$(VERSION)"

clean:
	rm -rf bin dist
