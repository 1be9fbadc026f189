# ivory: SIP/RTP media server with a built-in IVR runtime.
#
#   docker build -t ivory .
#   docker run --rm -p 5060:5060/udp -p 5060:5060/tcp -p 8080:8080 -p 20000-20099:20000-20099/udp ivory
#
# The image runs the embedded defaults (config/ivory.toml): SIP on 0.0.0.0:5060, RTP 20000-29999,
# the demo on number 1000, data in /opt/ivory/data. Mount your own config and pass
# `serve --config /etc/ivory/ivory.toml` to change that; set sip.public_address to the address
# callers reach, since inside a container the listen address is not it. The default config's
# HTTP API listens on 127.0.0.1 (unreachable from outside the container) until [http] listen says
# otherwise. Publishing the whole RTP range with -p is slow in Docker; publish what you use, or
# run with --network host.

FROM rust:1.95-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpocketsphinx-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY config ./config
RUN cargo build --release --locked -p ivory-server --bin ivory \
    && strip --strip-debug target/release/ivory

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng ca-certificates \
       libpocketsphinx3 pocketsphinx-en-us \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /opt/ivory --shell /usr/sbin/nologin ivory
WORKDIR /opt/ivory
COPY --from=builder /build/target/release/ivory /usr/local/bin/ivory
COPY config ./config
COPY sounds ./sounds
RUN mkdir -p data && chown ivory:ivory data
USER ivory
VOLUME ["/opt/ivory/data"]
EXPOSE 5060/udp 5060/tcp 8080 20000-29999/udp
CMD ["ivory", "serve"]
