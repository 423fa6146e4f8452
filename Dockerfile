# hookd container image: a static binary on a distroless base, run as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t hookd .
#   docker run -p 8080:8080 -v hookd-data:/var/lib/hookd -e HOOKD_ADMIN_KEY=sk-... hookd
#
# SQLite lives in the /var/lib/hookd volume by default; set HOOKD_DB=postgres://... for
# PostgreSQL. Every setting is a HOOKD_* variable (docs/configuration.md), or mount a file and
# pass --config.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a change of source does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binary needs no libc and runs on a
# static base. -trimpath keeps build paths out of it. VERSION and COMMIT, when given, override
# what Go reads from .git.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/hookd/hookd/internal/cli.version=${VERSION} -X github.com/hookd/hookd/internal/cli.commit=${COMMIT}" \
      -o /out/hookd ./cmd/hookd \
 && mkdir -p /out/data

# distroless/static: CA certificates and time zones, no shell, no package manager; the
# nonroot variant runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hookd /usr/local/bin/hookd
COPY --from=build --chown=65532:65532 /out/data /var/lib/hookd
USER 65532:65532
VOLUME /var/lib/hookd
ENV HOOKD_ADDR=0.0.0.0:8080 \
    HOOKD_DB=sqlite:/var/lib/hookd/hookd.db
EXPOSE 8080
# SIGTERM (docker stop) lets in-flight attempts finish for --shutdown-grace (30 s): give
# `docker stop --time` at least that much.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hookd"]
CMD ["serve"]
