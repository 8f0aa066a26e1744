# syntax=docker/dockerfile:1
# Build: docker build -t hrflow-relay .        (podman: podman build --format docker -t hrflow-relay .
#        so that the HEALTHCHECK below is kept; the OCI format drops it silently)
# Run:   see the README, "Docker": docker run -p 8080:8080 -v relay-data:/data ... hrflow-relay

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so they are cached while only the sources change.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src src
COPY config config
COPY migrations migrations
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim AS runtime
# ca-certificates: the platform trust store the relay's TLS client reads (rustls-native-certs).
# Add a corporate CA with a derived image (COPY it to /usr/local/share/ca-certificates/ and RUN
# update-ca-certificates), or mount a bundle and set SSL_CERT_FILE to it.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin relay \
    && mkdir -p /data /etc/hrflow-relay && chown 10001:10001 /data && chmod 0700 /data
COPY --from=build /src/target/release/hrflow-relay /usr/local/bin/hrflow-relay
# The example configuration and its script, side by side: a relative `script` in a config file
# resolves against that file's folder.
COPY config/example.toml config/example.rhai /etc/hrflow-relay/
USER 10001:10001
WORKDIR /data
# No VOLUME: mount one on /data for SQLite (`-v relay-data:/data`); replicas on PostgreSQL need
# none, and an image VOLUME would give each of them an anonymous volume it never uses.
ENV RELAY__SERVER__HOST=0.0.0.0 \
    RELAY__SERVER__PORT=8080 \
    RELAY__DATABASE__URL=sqlite:///data/relay.db
EXPOSE 8080
# The binary probes itself: no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s CMD ["hrflow-relay", "probe", "--path", "/health/ready"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["hrflow-relay"]
CMD ["serve"]
