# The kizashi-exporter image, made from a release directory (go tool mage release): only COPY of
# the static binary the release built, no compiler, no RUN, nothing downloaded but the base
# image. From the repository root, after go tool mage release:
#
#   docker build -f deploy/docker/kizashi-exporter.Dockerfile -t kizashi-exporter:0.1.0 dist
#   docker buildx build --platform linux/amd64,linux/arm64 -f deploy/docker/kizashi-exporter.Dockerfile -t kizashi-exporter:0.1.0 dist
#
# distroless/static: CA certificates (HTTPS to Prometheus and ticket systems), time zones and
# the user nonroot (65532), no shell. BuildKit (docker build's default since Docker 23) sets
# TARGETOS and TARGETARCH and creates WORKDIR owned by USER, so that the volume is writable.
FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETOS=linux
ARG TARGETARCH=amd64
COPY ${TARGETOS}-${TARGETARCH}/LICENSE /LICENSE
COPY ${TARGETOS}-${TARGETARCH}/kizashi-exporter /bin/kizashi-exporter
USER 65532:65532
# The model snapshots (--storage.path): a volume owned by 65532.
WORKDIR /var/lib/kizashi-exporter
VOLUME ["/var/lib/kizashi-exporter"]
EXPOSE 9742
ENTRYPOINT ["/bin/kizashi-exporter"]
CMD ["--config.file=/etc/kizashi-exporter/kizashi-exporter.yml", "--storage.path=/var/lib/kizashi-exporter"]
