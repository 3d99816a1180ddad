# Builds the tessera binary and a small runtime image. For machines with a Docker engine.
FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev libpq-dev libargon2-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
RUN swift build -c release --product tessera --static-swift-stdlib

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 libpq5 libargon2-1 libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/tessera tessera \
    && mkdir -p /var/lib/tessera/keys && chown -R tessera /var/lib/tessera
COPY --from=build /src/.build/release/tessera /usr/local/bin/tessera
COPY Migrations /usr/share/tessera/Migrations
USER tessera
WORKDIR /var/lib/tessera
ENV TESSERA_LISTEN=0.0.0.0:8080 TESSERA_MIGRATIONS_DIR=/usr/share/tessera/Migrations TESSERA_KEYS_DIR=/var/lib/tessera/keys
EXPOSE 8080
ENTRYPOINT ["tessera"]
CMD ["serve", "--migrate"]
