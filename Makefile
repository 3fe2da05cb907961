# The two commands a newcomer needs are `make dev` and `make test`.
GO      ?= go
BIN     := bin/matriz
PKGS    := ./...

.PHONY: build dev test audit bench image clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/matriz

# dev builds the binary and runs everything in one process on the embedded
# broker and registry. Data lives in .matriz/ and survives restarts.
dev: build
	./$(BIN) dev

# test runs every test: unit, integration on the embedded broker, golden
# files, fuzz seeds and the interop checks.
test:
	$(GO) test -count=1 -timeout 60m $(PKGS)

# audit is vet + build + a gofmt check.
audit: build
	$(GO) vet $(PKGS)
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# image builds the scratch image matriz:dev (deploy/Dockerfile) from a
# static binary; deploy/docker-compose.yml runs every lane from it.
image:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/matriz
	docker build -f deploy/Dockerfile -t matriz:dev .

clean:
	rm -rf bin .matriz
