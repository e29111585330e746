# The two commands the README promises: `make run` and `make test`. Both install missing Debian
# packages first (scripts/setup).
SWIFT ?= swift

.PHONY: setup build build-debug run test bench clean

setup:
	@scripts/setup

build: setup
	$(SWIFT) build -c release

build-debug: setup
	$(SWIFT) build

run: build
	scripts/run-local

# Builds every product in debug first: the integration tests start wrpd and wrp-sim as processes.
test: build-debug
	scripts/generate-proto --check
	$(SWIFT) test

bench: build
	bench/proxy.sh

clean:
	rm -rf .build .build-* data
