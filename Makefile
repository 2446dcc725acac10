# droptrace build, code generation and tests. See README.md.

GO       ?= go
# Debian 12's clang; pinned so `make generate` reproduces the committed
# objects byte for byte.
CLANG    ?= clang-14
STRIP    ?= llvm-strip-14
BPF_CFLAGS := -O2 -g -Wall -Werror
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

APT_TEST  := iproute2 iputils-ping iptables nftables tcpdump tshark bpftrace iperf3 qemu-system-x86 qemu-system-arm busybox-static cpio containerd runc containernetworking-plugins podman
APT_GEN   := clang-14 llvm-14 libbpf-dev linux-libc-dev linux-libc-dev-arm64-cross

GO_SOURCES := $(shell find . -name '*.go' -not -name '*_test.go' -not -path './.git/*') $(wildcard bpf/*_bpfel.o)

.PHONY: all build generate check-generate test unit e2e vmtest vmtest-arm64 vet deps-test deps-gen bench clean

all: build

build: droptrace

droptrace: $(GO_SOURCES) go.mod go.sum
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/droptrace

# generate removes the generated files first, so an object no longer built
# does not linger.
generate: deps-gen
	rm -f bpf/*_bpfel.go bpf/*_bpfel.o
	cd bpf && BPF_CLANG=$(CLANG) BPF_STRIP=$(STRIP) BPF_CFLAGS="$(BPF_CFLAGS)" $(GO) generate ./...

# check-generate fails when the committed BPF objects are not what the
# sources produce.
check-generate: generate
	git diff --exit-code -- bpf/
	@test -z "$$(git status --porcelain -- bpf/)" || { git status --short -- bpf/; echo "check-generate: files above are not committed"; exit 1; }

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '_bpfel.go$$'))" || { gofmt -l . ; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	GOARCH=arm64 CGO_ENABLED=0 $(GO) build ./...
	GOARCH=arm64 CGO_ENABLED=0 $(GO) vet ./...

# test runs every test: unit tests, then the privileged end-to-end tests
# against real drops in network namespaces.
test: deps-test vet unit e2e vmtest

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -e /e2e -e /vmtest/guest)

e2e: build
	DROPTRACE_BIN=$(CURDIR)/droptrace $(GO) test -count=1 -v -timeout 20m ./e2e/

# vmtest boots stock Debian kernels (newest 6.1 and 6.12 for amd64, 6.12
# for arm64 under qemu-system-aarch64) under qemu and runs the guest tests
# in vmtest/guest inside them; kernels are cached.
vmtest:
	bash vmtest/run.sh

# vmtest-arm64 runs the VM tests in the arm64 kernel alone.
vmtest-arm64:
	bash vmtest/run.sh --kernels arm64-6.12

# apt_install installs the Debian packages of $(1) that are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
endef

deps-test:
	$(call apt_install,$(APT_TEST))

deps-gen:
	$(call apt_install,$(APT_GEN))

# bench measures what droptrace costs (drop storms, TCP, event rate,
# memory, BPF ns per drop) and prints Markdown tables; root, ~5 minutes.
# PWRU names a pwru binary (or .gz) to compare path tracing with in the
# 6.12 VM, e.g. PWRU=../shared/tools/pwru-v1.0.12-amd64.gz (or
# BENCH_FLAGS="-pwru PATH"); without it the bench says pwru was not measured.
bench: build
	$(GO) run ./bench -bin $(CURDIR)/droptrace $(if $(PWRU),-pwru $(PWRU)) $(BENCH_FLAGS)
	bash bench/attach.sh

clean:
	rm -f droptrace
