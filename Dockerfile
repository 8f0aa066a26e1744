# syntax=docker/dockerfile:1
# Build: docker build -t hrflow-relay .
# Run:   docker run -p 8080:8080 -v relay-data:/data -e RELAY__FLATCHR__API_KEY=... hrflow-relay

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
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin relay \
    && mkdir -p /data /etc/hrflow-relay && chown relay /data
COPY --from=build /src/target/release/hrflow-relay /usr/local/bin/hrflow-relay
COPY config/example.rhai /etc/hrflow-relay/example.rhai
USER relay
WORKDIR /data
VOLUME ["/data"]
ENV RELAY__SERVER__HOST=0.0.0.0 \
    RELAY__SERVER__PORT=8080 \
    RELAY__DATABASE__URL=sqlite:///data/relay.db
EXPOSE 8080
# The binary probes itself: no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s CMD ["hrflow-relay", "probe"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["hrflow-relay"]
CMD ["serve"]
