# watchfire — common tasks. `make test` is what CI runs.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:9711
DEMO_LISTEN ?= 127.0.0.1:9712

.PHONY: all build test lint demo bench fuzz clean

all: build

build:
	$(CARGO) build --release --bins --examples

## The whole test suite: unit tests, end-to-end tests against real servers,
## conformance suites, plus format and lint checks.
test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test
	$(CARGO) test --doc

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

## Runs the demo exporter and watchfire on the bundled config; Ctrl-C stops both.
demo:
	$(CARGO) build --release --bin watchfire --example demo_exporter
	@echo "demo exporter on http://$(DEMO_LISTEN)/metrics, watchfire on http://$(LISTEN)/"
	@trap 'kill 0' INT TERM EXIT; \
	./target/release/examples/demo_exporter --listen $(DEMO_LISTEN) & \
	./target/release/watchfire run --config examples/watchfire.yml --listen $(LISTEN)

## Benchmarks: each prints its figures.
bench:
	$(CARGO) bench

clean:
	$(CARGO) clean
