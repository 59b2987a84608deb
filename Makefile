# versus — build, test, benchmark.
#
#   make build         release build of versus (guest images are built and embedded)
#   make test          formatting, lints, then every test, then the tests ignored for
#                      what this machine lacks and the parts skipped at run time
#                      (see .ci/run for CI's settings)
#   make bench         criterion benchmarks (cargo bench)
#   make soak          1000 launches per backend, then fds, threads, cgroups, mounts compared
#   make demo          a short tour: doctor, then host, container and VM, then compare
#   make doc           API docs
#   make lint          cargo fmt --check and clippy -D warnings, host and guest workspaces
#                      (adds the rustfmt and clippy components through rustup if missing)
#   make guest-images  build the freestanding guest images on their own
#   make docs-figures  rerun every command the docs quote (compare, each explain lesson)
#                      into docs/figures/{en,ko}/, stamped with the run (needs root, /dev/kvm),
#                      and re-quote the docs pages' excerpts from it
#   make linux-guest   build the minimal Linux kernel of `versus vm run --linux`
#                      (Debian's linux-source-6.1 + guest-images/linux/versus.config;
#                      skipped when guest-images/linux/out/bzImage is up to date)
#   make test-linux-guest  build it, then run the tests that boot it (ignored by
#                      `make test`: a boot takes 20–60 s on a software KVM backend)

CARGO ?= cargo
VERSUS := target/release/versus
SOAK_LAUNCHES ?= 1000
# A test that cannot run here at all (no /dev/kvm, not root, no busybox or
# C compiler) is compiled as ignored with the reason (#[testkit::needs]);
# `make test` keeps the run's output here and counts those reasons at the end.
TEST_LOG := $(CURDIR)/target/test-output.log
TEST_STATUS := $(CURDIR)/target/test-status
# A test that skips a part of itself at run time (one backend of several) or
# whose guard found the machine changed since the build appends one line
# here; cargo's summary counts such a test as passed, so it is listed too.
SKIP_LOG := $(CURDIR)/target/test-skips.log

.PHONY: build test lint bench soak demo doc guest-images linux-guest test-linux-guest clean toolchain docs-figures

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

# The tests that boot the minimal kernel (all named the_minimal_kernel…): to
# "Run /init" with 1 and 2 vCPUs and versus' e820 map and MP table on the
# console, a boot without /init that panics and ends `versus vm run` with
# status 1, its JSON report, `compare --linux` and `explain two-stacks
# --linux`. One at a time: each boot is emulated ring-0 work that a second
# boot would slow. The kernel was just built, so a test that finds none
# fails instead of skipping (VERSUS_REQUIRE_LINUX_GUEST=1).
test-linux-guest: linux-guest
	VERSUS_REQUIRE_LINUX_GUEST=1 $(CARGO) test -p hypervisor --test linux_boot -- --ignored --test-threads=1 the_minimal_kernel
	VERSUS_REQUIRE_LINUX_GUEST=1 $(CARGO) test -p bench --test vm_linux -- --ignored --test-threads=1 the_minimal_kernel
	VERSUS_REQUIRE_LINUX_GUEST=1 $(CARGO) test -p bench --test explain -- --ignored --test-threads=1 the_minimal_kernel

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

# The status of `cargo test` is kept in a file, not lost in the pipe to
# tee (make's /bin/sh has no pipefail), and is make's own status at the end.
test: lint
	@mkdir -p target && rm -f $(SKIP_LOG) $(TEST_LOG) $(TEST_STATUS)
	@{ VERSUS_SKIP_LOG=$(SKIP_LOG) $(CARGO) test --workspace 2>&1; echo $$? > $(TEST_STATUS); } | tee $(TEST_LOG)
	@ignored=$$(grep -c ' \.\.\. ignored' $(TEST_LOG)); \
	if [ "$$ignored" -gt 0 ]; then \
		echo "$$ignored test(s) ignored, by reason:"; \
		grep ' \.\.\. ignored' $(TEST_LOG) | sed -e 's/^.* \.\.\. ignored, //' -e 's/^.* \.\.\. ignored$$/(no reason given)/' | sort | uniq -c; \
	else \
		echo "no test ignored"; \
	fi
	@if [ -s $(SKIP_LOG) ]; then \
		echo "$$(wc -l < $(SKIP_LOG)) part(s) of tests skipped at run time (their tests count as passed above):"; \
		sort $(SKIP_LOG) | uniq -c; \
	else \
		echo "no test skipped a part of itself"; \
	fi
	@exit $$(cat $(TEST_STATUS))

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

# The figures the docs quote, all from one invocation: `versus compare` with
# a fixed, small number of rounds and every `versus explain` lesson, in
# English and Korean, one file per command in docs/figures/{en,ko}/. Every
# file starts with the same stamp (date, host kernel, KVM backend, which
# versus), and docs/figures/RUN.txt keeps it, so a page can say which run
# its excerpt is from. Kept out of `make test`: it measures, and it needs
# root and /dev/kvm as the lessons do. The release build unless
# DOCS_FIGURES_VERSUS names another binary. The lessons are those `versus
# explain` lists (bench/tests/explain.rs checks the two lists agree). A
# command that fails stops the run and leaves no half-written file. Last, the
# pages that quote the figures are re-quoted from the new files (each quoted
# block names its file in a `<!-- figures: FILE -->` comment; see
# bench/src/explain/requote.rs), so `make docs-figures` alone brings the docs
# in step and bench/tests/docs.rs passes after it (built in the profile of
# the versus that ran: release by default, debug with
# DOCS_FIGURES_VERSUS=target/debug/versus).
DOCS_QUOTING := docs/en/popular-notes.md docs/ko/popular-notes.md
DOCS_FIGURES := docs/figures
DOCS_FIGURES_RUNS := 5
DOCS_FIGURES_VERSUS ?= $(VERSUS)
DOCS_FIGURES_WIDTH := 100
DOCS_LESSONS := two-stacks no-translation namespaces chroot-vs-pivot_root capabilities seccomp cgroups lsm images exits lxc-docker-history windows-and-mac

docs-figures: $(if $(filter $(VERSUS),$(DOCS_FIGURES_VERSUS)),build)
	@set -e; \
	figure() { \
		out=$(DOCS_FIGURES)/$$1; shift; \
		echo "$$*"; \
		{ echo "\$$ versus $$*"; echo "# $$stamp"; echo; \
		  env -u LC_ALL -u LC_MESSAGES -u LANG COLUMNS=$(DOCS_FIGURES_WIDTH) \
		      $(DOCS_FIGURES_VERSUS) "$$@" 2>&1; } > "$$out.tmp" \
		  || { rm -f "$$out.tmp"; echo "failed: versus $$*" >&2; exit 1; }; \
		mv "$$out.tmp" "$$out"; \
	}; \
	backend="$$($(DOCS_FIGURES_VERSUS) doctor 2>/dev/null | grep -m1 '^KVM backend:' || echo 'KVM backend: unknown')"; \
	stamp="$$(date -u '+%Y-%m-%d %H:%M UTC'); Linux $$(uname -r); $$backend; $(DOCS_FIGURES_VERSUS) at $$(git rev-parse --short HEAD 2>/dev/null || echo 'no git')"; \
	mkdir -p $(DOCS_FIGURES)/en $(DOCS_FIGURES)/ko; \
	for lang in en ko; do \
		figure $$lang/compare.txt compare --runs $(DOCS_FIGURES_RUNS) --lang $$lang; \
		for lesson in $(DOCS_LESSONS); do \
			figure $$lang/explain-$$lesson.txt explain $$lesson --lang $$lang; \
		done; \
	done; \
	echo "$$stamp" > $(DOCS_FIGURES)/RUN.txt; \
	echo "docs figures written to $(DOCS_FIGURES)/ ($$stamp)"; \
	$(CARGO) run -q $(if $(filter $(VERSUS),$(DOCS_FIGURES_VERSUS)),--release) -p bench --example docs_requote -- $(DOCS_FIGURES) $(DOCS_QUOTING)

clean:
	$(CARGO) clean
	cd guest-images && $(CARGO) clean
