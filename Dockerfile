# syntax=docker/dockerfile:1
# One build of every Bulwark binary (static, CGO_ENABLED=0, `make build`
# over the go.work workspace), and one small non-root image per binary:
#
#   docker build --target chsink -t bulwark-chsink .
#
# Targets: shipper, aggregator, decider, sidecar, cfsync, chsink, fwsync, gate and
# bulwark (the CLI, the default). The runtime base is Alpine rather than
# distroless because the compose health checks need a wget inside the image.

ARG GO_VERSION=1.26
ARG ALPINE_VERSION=3.20

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
# Modules first, so that a source change does not download them again
# (every service module depends only on libs).
COPY libs/go.mod libs/go.sum ./libs/
RUN --mount=type=cache,target=/root/go/pkg/mod \
    cd libs && GOWORK=off go mod download
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make build && ls -l bin/

FROM alpine:${ALPINE_VERSION} AS runtime
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 10001 bulwark \
 && adduser -S -D -H -u 10001 -G bulwark bulwark \
 && mkdir -p /var/lib/bulwark /etc/bulwark /usr/share/bulwark \
 && chown bulwark:bulwark /var/lib/bulwark
COPY --from=build /src/libs/detect/rules/default.yaml /etc/bulwark/rules.yaml
COPY --from=build /src/dashboards /usr/share/bulwark/dashboards
ENV BULWARK_GRAFANA_DASHBOARDS=/usr/share/bulwark/dashboards
WORKDIR /var/lib/bulwark
USER 10001:10001

FROM runtime AS shipper
COPY --from=build /src/bin/bulwark-shipper /usr/local/bin/
EXPOSE 8484
ENTRYPOINT ["/usr/local/bin/bulwark-shipper"]

FROM runtime AS aggregator
COPY --from=build /src/bin/bulwark-aggregator /usr/local/bin/
EXPOSE 8481
ENTRYPOINT ["/usr/local/bin/bulwark-aggregator"]

FROM runtime AS decider
COPY --from=build /src/bin/bulwark-decider /usr/local/bin/
EXPOSE 8483
ENTRYPOINT ["/usr/local/bin/bulwark-decider"]

FROM runtime AS sidecar
COPY --from=build /src/bin/bulwark-sidecar /usr/local/bin/
EXPOSE 8480 8482
ENTRYPOINT ["/usr/local/bin/bulwark-sidecar"]

FROM runtime AS cfsync
COPY --from=build /src/bin/bulwark-cfsync /usr/local/bin/
EXPOSE 9483
ENTRYPOINT ["/usr/local/bin/bulwark-cfsync"]

FROM runtime AS chsink
COPY --from=build /src/bin/bulwark-chsink /usr/local/bin/
EXPOSE 8485
ENTRYPOINT ["/usr/local/bin/bulwark-chsink"]

FROM runtime AS fwsync
COPY --from=build /src/bin/bulwark-fwsync /usr/local/bin/
EXPOSE 9484
ENTRYPOINT ["/usr/local/bin/bulwark-fwsync"]

FROM runtime AS gate
COPY --from=build /src/bin/bulwark-gate /usr/local/bin/
EXPOSE 8080 8487
ENTRYPOINT ["/usr/local/bin/bulwark-gate"]

FROM runtime AS console
COPY --from=build /src/bin/bulwark-console /usr/local/bin/
EXPOSE 8490 8491
ENTRYPOINT ["/usr/local/bin/bulwark-console"]

FROM runtime AS bulwark
COPY --from=build /src/bin/bulwark /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/bulwark"]
CMD ["--help"]
