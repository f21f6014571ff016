# canaryd's container image (README: "Deploy").
#
#   docker build -t canaryd:0.1.0 .
#   docker run --rm -p 8080:8080 -v canaryd-data:/var/lib/canaryd canaryd:0.1.0
#
# Two stages: the release build, then a slim Debian with the binary, the shipped analysis
# templates and nothing else. It runs as the unprivileged user canaryd (uid 10001), listens on
# 0.0.0.0:8080, keeps its SQLite store on the volume /var/lib/canaryd, and writes nowhere else
# (so the root filesystem can be mounted read-only; give it a /tmp). Configuration is layered
# (defaults < --config FILE < CANARYD__SECTION__KEY variables); the variables below set the
# in-container defaults, a mounted config file (deploy/kubernetes) or -e overrides the rest.
#
# scripts/build-image.sh builds the same layout with buildah where no registry is reachable.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin canaryd \
 && strip target/release/canaryd

FROM debian:bookworm-slim
# libssl3 for reqwest's native TLS, ca-certificates for https sources and callbacks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 canaryd \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/canaryd \
      --no-create-home --shell /usr/sbin/nologin canaryd \
 && mkdir -p /var/lib/canaryd /etc/canaryd \
 && chown 10001:10001 /var/lib/canaryd
COPY --from=build /src/target/release/canaryd /usr/local/bin/canaryd
COPY analysis-templates/ /usr/share/canaryd/analysis-templates/
ENV CANARYD__SERVER__LISTEN=0.0.0.0:8080 \
    CANARYD__STORE__URL=sqlite:///var/lib/canaryd/canaryd.db \
    CANARYD__TEMPLATES__DIR=/usr/share/canaryd/analysis-templates
WORKDIR /var/lib/canaryd
VOLUME /var/lib/canaryd
EXPOSE 8080
USER 10001:10001
# Probes: GET /healthz (the process answers) and GET /readyz (the store answers); the image
# has no curl, so the orchestrator probes over HTTP (deploy/kubernetes does).
ENTRYPOINT ["/usr/local/bin/canaryd"]
CMD ["serve"]
