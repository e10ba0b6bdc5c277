# watchfire — common tasks. `make test` is what CI runs.

CARGO ?= cargo
LISTEN ?= 127.0.0.1:9711
DEMO_LISTEN ?= 127.0.0.1:9712

.PHONY: all build test lint demo bench fuzz fuzz-ci clean protoc

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= promql_deep template_deep config_deep rules_deep exposition config rules promql template
## CI: the structure-aware targets (which find deep nesting and long chains)
## get more time than the byte-level ones.
FUZZ_CI_TARGETS ?= promql_deep=15 template_deep=15 config_deep=15 rules_deep=15 \
	exposition=8 config=8 rules=8 promql=8 template=8

all: build

## The etcd client's build script generates its gRPC code with protoc: say so up front
## instead of failing deep inside cargo.
protoc:
	@command -v $${PROTOC:-protoc} >/dev/null 2>&1 || { \
	  echo "building watchfire needs protoc (the etcd client's generated code):" >&2; \
	  echo "  apt-get install protobuf-compiler   (or set PROTOC=/path/to/protoc)" >&2; exit 1; }

build: protoc
	$(CARGO) build --release --bins --examples

## The whole test suite: unit tests, end-to-end tests against real servers,
## conformance suites, plus format and lint checks.
test: protoc
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps
	$(CARGO) test
	$(CARGO) test --doc

lint: protoc
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

## Runs the demo exporter and watchfire on the bundled config; Ctrl-C stops both.
demo: protoc
	$(CARGO) build --release --bin watchfire --example demo_exporter
	@echo "demo exporter on http://$(DEMO_LISTEN)/metrics, watchfire on http://$(LISTEN)/"
	@trap 'kill 0' INT TERM EXIT; \
	./target/release/examples/demo_exporter --listen $(DEMO_LISTEN) & \
	./target/release/watchfire run --config examples/watchfire.yml --listen $(LISTEN)

## Benchmarks: each prints its figures.
bench: protoc
	$(CARGO) bench

## Fuzzes each target for FUZZ_SECONDS (cargo-fuzz; RUSTC_BOOTSTRAP lets the stable
## toolchain build with the flags cargo-fuzz needs), also checking that formatted PromQL
## parses back to itself. Crashes, overflows, stalls and RSS above 2 GiB land in
## fuzz/artifacts/ and fail the run; see fuzz/run.sh.
fuzz: protoc
	WATCHFIRE_FUZZ_ROUNDTRIP=1 CARGO=$(CARGO) fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

## What CI runs after `make test`: every target for 8-15 s (under 2 minutes plus the build).
fuzz-ci: protoc
	CARGO=$(CARGO) fuzz/run.sh 20 $(FUZZ_CI_TARGETS)

clean:
	$(CARGO) clean
