# The kizashi-webhook image, made from a release directory (go tool mage release): only COPY of
# the static binary the release built, no compiler, no RUN, nothing downloaded but the base
# image. From the repository root, after go tool mage release:
#
#   docker build -f deploy/docker/kizashi-webhook.Dockerfile -t kizashi-webhook:0.1.0 dist
#   docker buildx build --platform linux/amd64,linux/arm64 -f deploy/docker/kizashi-webhook.Dockerfile -t kizashi-webhook:0.1.0 dist
#
# distroless/static: CA certificates (HTTPS to Prometheus and ticket systems), time zones and
# the user nonroot (65532), no shell. BuildKit (docker build's default since Docker 23) sets
# TARGETOS and TARGETARCH and creates WORKDIR owned by USER, so that the volume is writable.
FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETOS=linux
ARG TARGETARCH=amd64
COPY ${TARGETOS}-${TARGETARCH}/LICENSE /LICENSE
COPY ${TARGETOS}-${TARGETARCH}/kizashi-webhook /bin/kizashi-webhook
USER 65532:65532
# The SQLite store (storage.path: /var/lib/kizashi-webhook/kizashi.db): a volume owned by 65532.
WORKDIR /var/lib/kizashi-webhook
VOLUME ["/var/lib/kizashi-webhook"]
EXPOSE 9095
ENTRYPOINT ["/bin/kizashi-webhook"]
CMD ["--config.file=/etc/kizashi-webhook/kizashi-webhook.yml"]
