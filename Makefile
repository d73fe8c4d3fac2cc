# noderoll — every target works from a clean checkout: Go modules come from
# the module proxy through `go mod download`.

GO        ?= go
BIN       := bin
DEMO      := demo
# The OS image the demo plan expects nodes to report after their reinstall.
DEMO_OS_IMAGE ?= Flatcar Container Linux 4230.2.0
# The strategies the demo compares: compare's default set (rolling at 1, 2,
# 5, 10 and 20%, migration with a 10% seed) and the PDB-aware rolling 5%
# that the demo's plan uses.
DEMO_STRATEGIES ?= rolling:1%,rolling:2%,rolling:5%,rolling:10%,rolling:20%,migration,rolling:5%,order=planned
PKGS      := ./...
BENCHTIME ?= 1x

.PHONY: all build test test-short demo bench lint fmt deps clean-demo assets chromium fuzz fuzz-short

all: build

deps:
	$(GO) mod download

build: deps assets
	$(GO) build -o $(BIN)/noderoll ./cmd/noderoll

test: deps e2e-bins assets chromium
	$(GO) vet $(PKGS)
	$(GO) test -count=1 $(PKGS)
	$(MAKE) --no-print-directory fuzz-short

# The fuzz targets of the input loaders, package:function. `go test` runs
# their seed corpora (testdata/ and testdata/fuzz/, where crashes found are
# kept) as ordinary tests; `make fuzz` fuzzes each in turn for FUZZTIME
# (FUZZPARALLEL workers, default one per CPU), `make fuzz-short` for
# FUZZTIME_SHORT each, as `make test` does.
FUZZ_TARGETS   := ./snapshot/:FuzzLoadBytes ./plan/:FuzzLoadBytes ./sim/:FuzzParseConfig ./scheduler/:FuzzDecodeProfile
FUZZTIME       ?= 10m
FUZZTIME_SHORT ?= 5s
FUZZPARALLEL   ?=

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-run FUZZ_FOR=$(FUZZTIME)

fuzz-short: deps
	@$(MAKE) --no-print-directory fuzz-run FUZZ_FOR=$(FUZZTIME_SHORT)

.PHONY: fuzz-run
fuzz-run:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz: $$fn in $$pkg for $(FUZZ_FOR)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZ_FOR) -fuzzminimizetime 10s \
			$(if $(FUZZPARALLEL),-parallel $(FUZZPARALLEL)) $$pkg; \
	done

test-short: deps assets
	$(GO) test -short $(PKGS)

# The main job on the built-in seed-scale cluster.
demo: build
	@mkdir -p $(DEMO)
	$(BIN)/noderoll snapshot generate --profile seed --seed 1 -o $(DEMO)/seed.json.gz
	$(BIN)/noderoll snapshot inspect $(DEMO)/seed.json.gz -o table | tee $(DEMO)/snapshot.txt
	$(BIN)/noderoll analyze $(DEMO)/seed.json.gz -o markdown > $(DEMO)/preflight.md
	$(BIN)/noderoll compare $(DEMO)/seed.json.gz --strategies '$(DEMO_STRATEGIES)' \
		--html $(DEMO)/report.html --markdown $(DEMO)/report.md --json $(DEMO)/compare.json | tee $(DEMO)/compare.txt
	$(BIN)/noderoll plan $(DEMO)/seed.json.gz --strategy rolling --batch-size 5% --order planned \
		--reinstall 'echo "replace with your reinstall command for $$NODE_NAME" >&2; exit 1' --new-os-image "$(DEMO_OS_IMAGE)" -o $(DEMO)/plan.yaml > $(DEMO)/plan.txt
	@echo
	@echo "demo: report $(DEMO)/report.html and $(DEMO)/report.md (compare.txt, compare.json: the ranking);"
	@echo "      plan $(DEMO)/plan.yaml (rolling 5%, PDB-aware batches: noderoll execute $(DEMO)/plan.yaml --dry-run);"
	@echo "      snapshot $(DEMO)/seed.json.gz, $(DEMO)/snapshot.txt, preflight $(DEMO)/preflight.md"

# The HTML report inlines Apache ECharts (package reports, assets/). Its
# minified build comes from the npm registry's echarts package at a pinned
# version (npm checks the tarball's integrity); it is generated, gitignored
# and embedded into the binary by the next `go build`.
ECHARTS_VERSION := 5.6.0
ECHARTS_JS      := reports/assets/echarts.min.js

assets: $(ECHARTS_JS)

$(ECHARTS_JS): Makefile
	@command -v npm >/dev/null || { apt-get update && apt-get install -y --no-install-recommends npm; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent --loglevel=error echarts@$(ECHARTS_VERSION) >/dev/null && \
	 tar -xzf echarts-$(ECHARTS_VERSION).tgz package/dist/echarts.min.js) && \
	cp "$$tmp/package/dist/echarts.min.js" $@.tmp && mv $@.tmp $@
	@echo "assets: $@ (echarts $(ECHARTS_VERSION))"

# Headless Chromium for the report's browser test (package reports): Debian's
# package, installed when missing.
chromium:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y --no-install-recommends chromium; }

# Seed-scale benchmarks: our scheduler against the naive framework loop.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem -timeout 60m ./bench/

GOLANGCI_VERSION := v2.6.2

lint: deps $(CURDIR)/.cache/bin/golangci-lint-$(GOLANGCI_VERSION)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(CURDIR)/.cache/bin/golangci-lint-$(GOLANGCI_VERSION) run ./...

# golangci-lint from the Go module proxy, pinned.
$(CURDIR)/.cache/bin/golangci-lint-$(GOLANGCI_VERSION):
	@mkdir -p $(CURDIR)/.cache/bin/lint
	GOBIN=$(CURDIR)/.cache/bin/lint $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	mv $(CURDIR)/.cache/bin/lint/golangci-lint $@

fmt:
	gofmt -w $$(git ls-files '*.go')

clean-demo:
	rm -rf $(DEMO)

# ---------------------------------------------------------------------------
# End-to-end control plane (package e2e): etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok and kwokctl, every
# one built from Go modules into $(E2E_BIN) and reused between runs. The
# Kubernetes commands come from this module (same replace block, versions
# pinned by go.mod through tools/tools.go) in one `go build`, which shares
# the work; KWOK has its own k8s.io minor, so it is installed on its own.
# A version change in go.mod or here changes a stamp file, which rebuilds.

E2E_BIN      ?= $(CURDIR)/.cache/bin
# The e2e tests look for the binaries there (package e2e, FindBinaries).
export NODEROLL_E2E_BIN := $(E2E_BIN)
K8S_VERSION  := $(shell awk '$$1 == "k8s.io/kubernetes" { print $$2; exit }' go.mod)
ETCD_VERSION := $(shell awk '$$1 == "go.etcd.io/etcd/server/v3" { print $$2; exit }' go.mod)
KWOK_VERSION := v0.8.0
K8S_MAJOR    := $(word 1,$(subst ., ,$(patsubst v%,%,$(K8S_VERSION))))
K8S_MINOR    := $(word 2,$(subst ., ,$(patsubst v%,%,$(K8S_VERSION))))
# kwokctl reads the API server's --version to pick its flags: stamp it.
K8S_LDFLAGS  := $(foreach pkg,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(pkg).gitVersion=$(K8S_VERSION) -X $(pkg).gitMajor=$(K8S_MAJOR) \
	-X $(pkg).gitMinor=$(K8S_MINOR) -X $(pkg).gitTreeState=clean)
K8S_CMDS     := kube-apiserver kube-controller-manager kube-scheduler kubectl
K8S_BINS     := $(addprefix $(E2E_BIN)/,$(K8S_CMDS))
E2E_BINS     := $(K8S_BINS) $(E2E_BIN)/etcd $(E2E_BIN)/kwok $(E2E_BIN)/kwokctl
KWOK_CLUSTER ?= noderoll
KWOK_WORKDIR ?= $(CURDIR)/.cache/kwok

.PHONY: e2e-bins kwok-up kwok-down

e2e-bins: $(E2E_BINS)

# Stamps name the version they stand for; a new version has no stamp yet.
$(E2E_BIN)/.k8s-$(K8S_VERSION) $(E2E_BIN)/.etcd-$(ETCD_VERSION) $(E2E_BIN)/.kwok-$(KWOK_VERSION):
	@mkdir -p $(@D)
	@rm -f $(@D)/$(firstword $(subst -, ,$(@F)))-*
	@touch $@

$(K8S_BINS) &: $(E2E_BIN)/.k8s-$(K8S_VERSION)
	$(GO) build -ldflags '$(K8S_LDFLAGS)' -o $(E2E_BIN)/ $(addprefix k8s.io/kubernetes/cmd/,$(K8S_CMDS))
	@touch $(K8S_BINS)

$(E2E_BIN)/etcd: $(E2E_BIN)/.etcd-$(ETCD_VERSION)
	$(GO) build -o $@ go.etcd.io/etcd/server/v3

$(E2E_BIN)/kwok $(E2E_BIN)/kwokctl &: $(E2E_BIN)/.kwok-$(KWOK_VERSION)
	GOBIN=$(E2E_BIN) $(GO) install sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION) sigs.k8s.io/kwok/cmd/kwokctl@$(KWOK_VERSION)
	@touch $(E2E_BIN)/kwok $(E2E_BIN)/kwokctl

# A cluster for people, on 127.0.0.1, with the e2e package's configuration
# and KWOK stages, in $(KWOK_WORKDIR). kwok-up prints how to reach it;
# kwok-down deletes it.
KWOKCTL = KWOK_WORKDIR=$(KWOK_WORKDIR) KWOK_KUBECTL_BINARY=$(E2E_BIN)/kubectl \
	$(E2E_BIN)/kwokctl --name $(KWOK_CLUSTER)

kwok-up: e2e-bins
	@mkdir -p $(KWOK_WORKDIR)
	$(KWOKCTL) -c e2e/kwok/kwokctl.yaml -c e2e/kwok/stages.yaml create cluster --runtime binary \
		--kube-apiserver-binary $(E2E_BIN)/kube-apiserver \
		--kube-controller-manager-binary $(E2E_BIN)/kube-controller-manager \
		--kube-scheduler-binary $(E2E_BIN)/kube-scheduler \
		--kwok-controller-binary $(E2E_BIN)/kwok --etcd-binary $(E2E_BIN)/etcd \
		--disable-qps-limits --kubeconfig "" --wait 2m
	@echo
	@echo "cluster $(KWOK_CLUSTER) is up on 127.0.0.1; to use it:"
	@echo "  export KUBECONFIG=$(KWOK_WORKDIR)/clusters/$(KWOK_CLUSTER)/kubeconfig.yaml PATH=$(E2E_BIN):\$$PATH"
	@echo "  noderoll snapshot apply FILE    # then: make kwok-down"

kwok-down: $(E2E_BIN)/kwokctl
	$(KWOKCTL) delete cluster
