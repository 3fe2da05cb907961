# The two commands a newcomer needs are `make dev` and `make test`.
GO      ?= go
BIN     := bin/matriz
PKGS    := ./...

.PHONY: build dev test audit gates bench fuzz image rehearse clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/matriz

# dev builds the binary and runs everything in one process on the embedded
# broker and registry. Data lives in .matriz/ and survives restarts.
dev: build
	./$(BIN) dev

# test runs every test: unit, integration on the embedded broker, golden
# files, fuzz seeds, the crash soak and the interop checks; then every
# package again under the race detector. The race run takes the packages one
# at a time (-p 1: two busy cores under the detector slow the timing-bound
# integration tests past their deadlines) and gives cmd/matriz -short: its
# long tests drive real matriz processes, which the detector in the test
# binary does not see into, and the crash soak has already run above;
# pipelines/bench gets -short too: its long tests time whole lanes, which
# the detector slows tenfold while it measures nothing the runtime's own
# race run does not; deploy/rehearsal is left out of it: its test process
# only drives containers, whose matriz processes the detector does not see
# into, and the rehearsal has already run above.
# GOMEMLIMIT makes a test binary collect before its heap doubles: the crash
# soak holds two lanes' logs in its embedded brokers and diffs them, and on
# a loaded machine without a limit it once grew past the machine's memory.
RACE_PKGS = $$($(GO) list $(PKGS) | grep -v -e '/cmd/matriz$$' -e '/pipelines/bench$$' -e '/deploy/rehearsal$$')
test:
	GOMEMLIMIT=8GiB $(GO) test -count=1 -timeout 60m $(PKGS)
	CGO_ENABLED=1 $(GO) test -race -count=1 -p 1 -timeout 60m $(RACE_PKGS)
	CGO_ENABLED=1 $(GO) test -race -count=1 -short -timeout 20m ./cmd/matriz/ ./pipelines/bench/

# audit is vet + build + a gofmt check.
audit: build
	$(GO) vet $(PKGS)
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# gates are CI's floors (.ci/budgets): coverage per package, the short
# bench's ratios, and the prod-only tests run with LUKHAS_LANE=prod.
gates:
	./.ci/gates

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# fuzz runs every Fuzz target of every package for FUZZTIME each (go test
# -fuzz takes one target per run), printing each target's name and result;
# it fails when any target fails. A failing input is written to the
# package's testdata/fuzz/<Target>/, where plain `go test` replays it.
# Each input that widens coverage is minimized first, for up to
# FUZZMINTIME; go's default of 60s would spend a 60s run on one input.
FUZZTIME ?= 60s
FUZZMINTIME ?= 5s
fuzz:
	@fail=0; \
	for pkg in $$($(GO) list $(PKGS)); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$target ($$pkg, $(FUZZTIME))"; \
			if $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $$pkg > .fuzz.out 2>&1; then \
				echo "   ok: $$(grep -o 'execs: [0-9]*' .fuzz.out | tail -1)"; \
			else \
				echo "   FAIL:"; sed 's/^/   /' .fuzz.out | tail -30; fail=1; \
			fi; \
		done; \
	done; \
	rm -f .fuzz.out; exit $$fail

# image builds the scratch image matriz:dev (deploy/Dockerfile) from a
# static binary; deploy/docker-compose.yml runs every lane from it.
image:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/matriz
	docker build -f deploy/Dockerfile -t matriz:dev .

# rehearse runs the lanes in containers (deploy/rehearsal, README
# "Rehearsal"): the scratch image, the broker on a volume, deploy, one run
# per lane, the scenario's producers, prod's approval, then a SIGKILL, a
# broker restart and a network cut, and prints the report. LANES=prod,…
# rehearses fewer lanes; KEEP=1 leaves the containers for a look. It is a
# test, not a matriz subcommand, so the binary does not link the Docker
# client; `make test` runs it too.
rehearse:
	MATRIZ_REHEARSAL_LANES=$(LANES) MATRIZ_REHEARSAL_KEEP=$(KEEP) \
		$(GO) test -count=1 -v -timeout 20m -run '^TestRehearsal$$' ./deploy/rehearsal/

clean:
	rm -rf bin .matriz
