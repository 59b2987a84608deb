# versus — build, test, benchmark.
#
#   make build         release build of versus (guest images are built and embedded)
#   make test          formatting, lints, then every test (see .ci/run for CI's settings)
#   make bench         criterion benchmarks (cargo bench)
#   make soak          1000 launches per backend, then fds, threads, cgroups, mounts compared
#   make demo          a short tour: doctor, then host, container and VM, then compare
#   make doc           API docs
#   make lint          cargo fmt --check and clippy -D warnings, host and guest workspaces
#   make guest-images  build the freestanding guest images on their own

CARGO ?= cargo
VERSUS := target/release/versus
SOAK_LAUNCHES ?= 1000

.PHONY: build test lint bench soak demo doc guest-images clean

build:
	$(CARGO) build --release

guest-images:
	cd guest-images && $(CARGO) build --release

lint:
	$(CARGO) fmt --all --check
	cd guest-images && $(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd guest-images && $(CARGO) clippy --release -- -D warnings

test: lint
	$(CARGO) test --workspace

bench:
	$(CARGO) bench --workspace

soak:
	$(CARGO) run --release --example soak -- $(SOAK_LAUNCHES)

demo: build
	$(VERSUS) doctor
	$(VERSUS) host run -- uname
	$(VERSUS) container run -- ids
	$(VERSUS) vm run --vcpus 2 -- ids
	$(VERSUS) compare --runs 5

doc:
	$(CARGO) doc --workspace --no-deps

clean:
	$(CARGO) clean
	cd guest-images && $(CARGO) clean
