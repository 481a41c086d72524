# Perch: `make run` starts a gateway with embedded defaults (data in ./perch-data),
# `make test` runs every test. See README.md.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS   := -s -w -X github.com/perch-gw/perch/gateway/version.Version=$(VERSION) -X github.com/perch-gw/perch/gateway/version.Commit=$(COMMIT)
BUILD     := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run build test test-cross test-short test-node-red firmware check cross deb bench fuzz clean console

# The web console's libraries (preact, htm, uPlot) come from the npm registry
# at the versions pinned in gateway/console/package-lock.json and are copied
# into gateway/console/web/vendor, which go:embed puts in the binary. They
# are never committed.
CONSOLE        := gateway/console
CONSOLE_VENDOR := $(CONSOLE)/web/vendor
CONSOLE_NPM    := $(CONSOLE)/node_modules/.package-lock.json

## run: build and start a gateway on the defaults (TLS MQTT :8883, API :8443, data ./perch-data)
run: build
	./bin/perch serve

## build: the perch binary for this machine, in bin/
build: console
	$(BUILD) -o bin/perch ./cmd/perch

## test: every test, with the race detector, after a 32-bit ARM build
test: console
	@# 32-bit ARM (Pi Zero, Pi 1-3) first: int is 32 bits there.
	GOOS=linux GOARCH=arm GOARM=6 CGO_ENABLED=0 $(GO) build ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) test-node-red

## test-node-red: the Node-RED nodes: unit tests, then a real Perch and Node-RED 4.1 running the example flows
test-node-red:
	cd node-red && npm ci --no-audit --no-fund && GO=$(GO) npm test

## test-cross: run the ARM binaries under qemu-user-static: serve, connect over TLS, publish, read back
test-cross: cross
	PERCH_CROSS_DIR=$(CURDIR)/dist $(GO) test -count=1 -run TestCrossBinaries -v ./cmd/perch/

## firmware: build the firmware examples against the host harness (g++, libmosquitto-dev, libssl-dev); make test runs them
firmware:
	$(MAKE) -C firmware-examples

## test-short: the fast subset
test-short:
	$(GO) test -short -count=1 ./...

## check: formatting, vet, staticcheck, tidy go.mod, cross builds
check: cross
	@out=$$(gofmt -l cmd gateway); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@cp go.mod /tmp/perch-go.mod.bak; cp go.sum /tmp/perch-go.sum.bak; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then echo "go mod tidy changed go.mod/go.sum"; git diff -- go.mod go.sum | head -40; exit 1; fi

## cross: static binaries for the Raspberry Pi generations and amd64, in dist/
cross: console
	GOOS=linux GOARCH=arm GOARM=6 $(BUILD) -o dist/perch_linux_armv6 ./cmd/perch
	GOOS=linux GOARCH=arm GOARM=7 $(BUILD) -o dist/perch_linux_armv7 ./cmd/perch
	GOOS=linux GOARCH=arm64 $(BUILD) -o dist/perch_linux_arm64 ./cmd/perch
	GOOS=linux GOARCH=amd64 $(BUILD) -o dist/perch_linux_amd64 ./cmd/perch

## deb: .deb packages (armhf from the armv6 build, so every 32-bit Pi; arm64; amd64) in dist/, with nfpm
NFPM        := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
DEB_VERSION ?= 0.0~git$(COMMIT)
deb: cross
	@for a in armv6:arm6:armhf arm64:arm64:arm64 amd64:amd64:amd64; do \
	  bin=$${a%%:*}; rest=$${a#*:}; nf=$${rest%%:*}; deb=$${rest#*:}; \
	  mkdir -p dist/.deb && cp dist/perch_linux_$$bin dist/.deb/perch && \
	  PERCH_DEB_ARCH=$$nf PERCH_DEB_VERSION=$(DEB_VERSION) \
	    $(GO) run $(NFPM) package --config cross/nfpm.yaml --packager deb --target dist/perch_$(DEB_VERSION)_$$deb.deb || exit 1; \
	done

## bench: whole-system benchmark against Mosquitto (see BENCHMARKS.md); needs mosquitto installed
bench: build
	$(GO) run ./cmd/perch-bench --perch ./bin/perch $(BENCHFLAGS)

## fuzz: run every fuzz target for FUZZTIME each (default 20s)
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## console: install the console's pinned npm packages and copy them into its web/vendor
console: $(CONSOLE_NPM)
	@mkdir -p $(CONSOLE_VENDOR)
	@set -e; nm=$(CONSOLE)/node_modules; \
	cp_lib() { sed '/^\/\/# sourceMappingURL=/d' "$$nm/$$1" > $(CONSOLE_VENDOR)/$$2.tmp; mv $(CONSOLE_VENDOR)/$$2.tmp $(CONSOLE_VENDOR)/$$2; }; \
	cp_lib preact/dist/preact.mjs preact.module.js; \
	cp_lib preact/hooks/dist/hooks.mjs hooks.module.js; \
	cp_lib htm/dist/htm.module.js htm.module.js; \
	cp_lib uplot/dist/uPlot.esm.js uPlot.esm.js; \
	cp_lib uplot/dist/uPlot.min.css uPlot.min.css

$(CONSOLE_NPM): $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	cd $(CONSOLE) && npm ci --ignore-scripts --no-audit --no-fund

clean:
	rm -rf bin dist $(CONSOLE)/node_modules node-red/node_modules firmware-examples/build
	find $(CONSOLE_VENDOR) -type f ! -name README.md -delete
