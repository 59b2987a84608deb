# versus — build, test, benchmark.
#
#   make build         release build of versus (guest images are built and embedded)
#   make test          formatting, lints, then every test, then the tests that skipped
#                      themselves (see .ci/run for CI's settings)
#   make bench         criterion benchmarks (cargo bench)
#   make soak          1000 launches per backend, then fds, threads, cgroups, mounts compared
#   make demo          a short tour: doctor, then host, container and VM, then compare
#   make doc           API docs
#   make lint          cargo fmt --check and clippy -D warnings, host and guest workspaces
#                      (adds the rustfmt and clippy components through rustup if missing)
#   make guest-images  build the freestanding guest images on their own
#   make linux-guest   build the minimal Linux kernel of `versus vm run --linux`
#                      (Debian's linux-source-6.1 + guest-images/linux/versus.config;
#                      skipped when guest-images/linux/out/bzImage is up to date)

CARGO ?= cargo
VERSUS := target/release/versus
SOAK_LAUNCHES ?= 1000
# Tests that skip themselves (no /dev/kvm, not root, no busybox or static
# libc) append one line here; `make test` prints them at the end, since
# cargo's summary counts a skipped test as passed.
SKIP_LOG := $(CURDIR)/target/test-skips.log

.PHONY: build test lint bench soak demo doc guest-images linux-guest clean toolchain

build:
	$(CARGO) build --release

guest-images:
	cd guest-images && $(CARGO) build --release

LINUX_GUEST := guest-images/linux/out/bzImage

linux-guest: $(LINUX_GUEST)

# Rebuilt when the fragment or the recipe changes; apt-get download needs a
# Debian 12 package source (the kernel is not built by `make test` or CI).
$(LINUX_GUEST): guest-images/linux/versus.config guest-images/linux/build.sh
	guest-images/linux/build.sh

# rustfmt and clippy, which `make lint` needs; rustup adds them where they
# are missing (a toolchain without rustup must bring them itself).
toolchain:
	@if command -v rustup >/dev/null; then \
		for c in rustfmt clippy; do \
			rustup component list --installed | grep -q "^$$c" || rustup component add $$c; \
		done; \
	fi

lint: toolchain
	$(CARGO) fmt --all --check
	cd guest-images && $(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd guest-images && $(CARGO) clippy --release -- -D warnings

test: lint
	@mkdir -p target && rm -f $(SKIP_LOG)
	VERSUS_SKIP_LOG=$(SKIP_LOG) $(CARGO) test --workspace
	@if [ -s $(SKIP_LOG) ]; then \
		echo "$$(wc -l < $(SKIP_LOG)) test(s) skipped themselves (counted as passed above):"; \
		sort $(SKIP_LOG) | uniq -c; \
	else \
		echo "no test skipped itself"; \
	fi

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
