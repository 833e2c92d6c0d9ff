# Dockerfile - the ultra-llm program and libultrallm in a Debian 12 image (compose.yaml's services).
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config libcurl4-openssl-dev libjansson-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DULM_INSTALL_PYTHON=OFF \
    && cmake --build /build -j"$(nproc)" \
    && cmake --install /build --prefix /opt/ultra-llm

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libcurl4 libjansson4 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/ultra-llm /usr/local
RUN ldconfig
ENTRYPOINT ["ultra-llm"]
CMD ["doctor"]
