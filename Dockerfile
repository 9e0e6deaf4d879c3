# syntax=docker/dockerfile:1
# Veilpost as a container: built in stages with cargo-chef (dependencies cached apart
# from the sources), run as an unprivileged user on a slim Debian.
#
#     docker build -t veilpost .
#     docker compose up        # with PostgreSQL and an S3-compatible store

FROM rust:1.95-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.73
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json -p veilpost
COPY . .
RUN cargo build --release --locked -p veilpost \
    && install -m 0755 target/release/veilpost /usr/local/bin/veilpost

FROM debian:bookworm-slim
# Certificates for PKIX delivery and HTTPS to SMS providers and MTA-STS policies.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 veilpost \
    && useradd --system --uid 10001 --gid veilpost --home-dir /var/lib/veilpost --no-create-home veilpost \
    && install -d -o veilpost -g veilpost -m 0700 /var/lib/veilpost \
    && install -d -o root -g veilpost -m 0750 /etc/veilpost
COPY --from=builder /usr/local/bin/veilpost /usr/local/bin/veilpost
COPY --chown=root:veilpost --chmod=0640 packaging/veilpost.toml /etc/veilpost/veilpost.toml
USER 10001:10001
WORKDIR /var/lib/veilpost
ENV VEILPOST_CONFIG=/etc/veilpost/veilpost.toml
VOLUME ["/etc/veilpost", "/var/lib/veilpost"]
# SMTP submission, the web (portal, staff, health), metrics when configured, MX.
EXPOSE 587 8080 9464 25
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["veilpost", "healthcheck"]
ENTRYPOINT ["veilpost"]
CMD ["serve"]
