"""Environment helpers and ServerConfig.from_env: defaults, parsing, named failures."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tts_common.config import (
    ConfigError,
    ModelStageConfig,
    ServerConfig,
    cpu_budget,
    env_bool,
    env_float,
    env_int,
    env_str,
    require_env,
)


def test_helpers_use_default_when_unset_or_blank() -> None:
    """Unset and whitespace-only variables both fall back to the default."""
    env = {"BLANK": "  "}
    assert env_str(env, "MISSING", "d") == "d"
    assert env_str(env, "BLANK", "d") == "d"
    assert env_int(env, "BLANK", 7) == 7
    assert env_float(env, "MISSING", 0.5) == 0.5
    assert env_bool(env, "BLANK", True) is True


def test_helpers_parse_values() -> None:
    """Values are stripped and converted."""
    env = {"S": " x ", "I": " 42", "F": "2.5", "B1": "Yes", "B0": "OFF"}
    assert env_str(env, "S", "") == "x"
    assert env_int(env, "I", 0) == 42
    assert env_float(env, "F", 0.0) == 2.5
    assert env_bool(env, "B1", False) is True
    assert env_bool(env, "B0", True) is False


@pytest.mark.parametrize(
    ("helper", "default"),
    [(env_int, 0), (env_float, 0.0), (env_bool, False)],
)
def test_malformed_value_names_the_variable(
    helper: Callable[..., object], default: object
) -> None:
    """A value that does not parse raises ConfigError naming the variable."""
    with pytest.raises(ConfigError, match="ACOUSTIC_THING"):
        helper({"ACOUSTIC_THING": "maybe"}, "ACOUSTIC_THING", default)


def test_require_env_names_the_missing_variable() -> None:
    """A missing required address fails with the variable's name."""
    with pytest.raises(ConfigError, match="GATEWAY_ACOUSTIC_ADDR environment variable"):
        require_env({}, "GATEWAY_ACOUSTIC_ADDR")
    with pytest.raises(ConfigError, match="GATEWAY_ACOUSTIC_ADDR"):
        require_env({"GATEWAY_ACOUSTIC_ADDR": " "}, "GATEWAY_ACOUSTIC_ADDR")
    assert require_env({"A": "acoustic:50052"}, "A") == "acoustic:50052"


def test_server_config_defaults() -> None:
    """An empty environment gives the documented defaults."""
    cfg = ServerConfig.from_env({}, default_port=50052)
    assert cfg.port == 50052
    assert cfg.max_message_bytes == 64 * 1024 * 1024
    assert cfg.metrics_port == 0
    assert cfg.log_format == "json"
    assert cfg.log_level == "INFO"
    assert cfg.address == "[::]:50052"


def test_server_config_reads_prefixed_variables() -> None:
    """Every field comes from ``<prefix><NAME>``; unprefixed names are ignored."""
    env = {
        "VOC_HOST": "127.0.0.1",
        "VOC_PORT": "6000",
        "VOC_METRICS_PORT": "9100",
        "VOC_MAX_MESSAGE_BYTES": str(8 << 20),
        "VOC_GRACE_S": "12.5",
        "VOC_DRAIN_DELAY_S": "2",
        "VOC_LOG_LEVEL": "debug",
        "VOC_LOG_FORMAT": "TEXT",
        "VOC_MAX_WORKERS": "2",
        "VOC_MAX_QUEUE": "3",
        "PORT": "1",
    }
    cfg = ServerConfig.from_env(env, "VOC_")
    assert cfg == ServerConfig(
        host="127.0.0.1",
        port=6000,
        metrics_port=9100,
        max_message_bytes=8 << 20,
        grace_s=12.5,
        drain_delay_s=2.0,
        log_level="DEBUG",
        log_format="text",
        max_workers=2,
        max_queue=3,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"X_PORT": "70000"}, "PORT"),
        ({"X_PORT": "http"}, "X_PORT"),
        ({"X_LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"X_LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({"X_GRACE_S": "-1"}, "GRACE_S"),
        ({"X_MAX_WORKERS": "0"}, "MAX_WORKERS"),
        ({"X_MAX_MESSAGE_BYTES": "1000"}, "MAX_MESSAGE_BYTES"),
    ],
)
def test_server_config_rejects_bad_values(env: dict[str, str], named: str) -> None:
    """Out-of-range or malformed settings fail at start-up, naming the setting."""
    with pytest.raises(ConfigError, match=named) as info:
        ServerConfig.from_env(env, "X_")
    assert "X_" in str(info.value)


def test_server_config_is_frozen() -> None:
    """Settings cannot change after start-up."""
    cfg = ServerConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.port = 1  # type: ignore[misc]  # the frozen assignment is the test


def test_max_connection_age_is_read_and_validated() -> None:
    """Connection age drives DNS re-resolution after scale-ups; 0 turns it off."""
    assert ServerConfig.from_env({}).max_connection_age_s == 300.0
    cfg = ServerConfig.from_env({"X_MAX_CONNECTION_AGE_S": "0"}, "X_")
    assert cfg.max_connection_age_s == 0.0
    with pytest.raises(ConfigError, match="MAX_CONNECTION_AGE_S"):
        ServerConfig.from_env({"X_MAX_CONNECTION_AGE_S": "-1"}, "X_")


def test_env_fields_parse_by_annotated_type_and_name_the_variable() -> None:
    from dataclasses import dataclass

    from tts_common.config import env_fields

    @dataclass(frozen=True)
    class Settings:
        wait_s: float = 1  # an int default must still accept "0.5"
        count: int = 3
        verbose: bool = False
        name: str = "x"
        untouched: int = 7

    names = ("wait_s", "count", "verbose", "name")
    got = env_fields(
        {"S_WAIT_S": "0.5", "S_VERBOSE": "yes", "S_UNTOUCHED": "9"},
        "S_",
        Settings(),
        names,
    )
    assert got == {"wait_s": 0.5, "count": 3, "verbose": True, "name": "x"}
    with pytest.raises(ConfigError, match="S_COUNT must be an integer"):
        env_fields({"S_COUNT": "many"}, "S_", Settings(), names)


def _cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_cpu_budget_follows_the_cgroup_quota(tmp_path: Path) -> None:
    """A container's CPU quota caps the threads (rounded up); no quota or no
    cgroup files leave the affinity count."""
    cpus = len(os.sched_getaffinity(0))
    v2 = _cgroup(tmp_path / "v2", {"cpu.max": "100000 100000\n"})
    assert cpu_budget(v2) == 1
    half = _cgroup(tmp_path / "half", {"cpu.max": "50000 100000\n"})
    assert cpu_budget(half) == 1
    v1 = _cgroup(
        tmp_path / "v1",
        {"cpu/cpu.cfs_quota_us": "150000\n", "cpu/cpu.cfs_period_us": "100000\n"},
    )
    assert cpu_budget(v1) == min(2, cpus)
    unlimited = _cgroup(tmp_path / "max", {"cpu.max": "max 100000\n"})
    assert cpu_budget(unlimited) == cpus
    v1_unlimited = _cgroup(
        tmp_path / "v1u",
        {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
    )
    assert cpu_budget(v1_unlimited) == cpus
    assert cpu_budget(tmp_path / "none") == cpus


def test_intra_op_threads() -> None:
    """Configured threads win; else torch's default capped by the CPU budget."""
    cfg = ModelStageConfig(model_dir="/m", torch_threads=3)
    assert cfg.intra_op_threads(16) == 3
    unset = ModelStageConfig(model_dir="/m")
    assert unset.intra_op_threads(10_000) == cpu_budget()
    assert unset.intra_op_threads(1) == 1
