# watchfire — common tasks. `make test` is what CI runs.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:9711
DEMO_LISTEN ?= 127.0.0.1:9712

.PHONY: all build test lint demo bench fuzz clean

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= exposition config rules promql template

all: build

build:
	$(CARGO) build --release --bins --examples

## The whole test suite: unit tests, end-to-end tests against real servers,
## conformance suites, plus format and lint checks.
test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps
	$(CARGO) test
	$(CARGO) test --doc

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

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

## Fuzzes each target for FUZZ_SECONDS (cargo-fuzz; RUSTC_BOOTSTRAP lets the stable
## toolchain build with the sanitizer flags cargo-fuzz needs). Crashes land in fuzz/artifacts/.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 || exit 1; \
	done

clean:
	$(CARGO) clean
