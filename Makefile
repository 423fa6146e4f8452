# hookd: `make test` is the whole test suite, exactly what CI runs (.ci/run).
GO ?= go

.PHONY: test lint vet fmt-check build fuzz bench

test: lint
	$(GO) test -race -timeout 12m ./...

lint: fmt-check vet
	$(GO) tool staticcheck ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

build:
	$(GO) build -ldflags "-X github.com/hookd/hookd/internal/cli.version=$$(git describe --tags --always --dirty 2>/dev/null || echo devel) -X github.com/hookd/hookd/internal/cli.commit=$$(git rev-parse HEAD 2>/dev/null)" -o bin/hookd ./cmd/hookd

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# bench-smoke: a small run of each benchmark, figures printed, nothing asserted (seconds).
# The full runs and their figures are in docs/perf.md.
.PHONY: bench-smoke
bench-smoke: build
	./bin/hookd bench -n 2000 -k 2
	./bin/hookd bench -n 5000 --backlog
	./bin/hookd bench -n 2000 -k 2 --batch 100
	./bin/hookd bench -n 2000 -k 4 --struggle-hooks 2
	./bin/hookd bench query --size 20000 --repeat 5 --live-window 2s --retry-failed 2000
