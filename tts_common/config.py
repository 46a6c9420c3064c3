"""Environment-variable helpers and the server settings every stage shares."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "ModelStageConfig",
    "ServerConfig",
    "check_server_tls",
    "env_bool",
    "env_float",
    "env_int",
    "env_secret",
    "env_str",
    "parse_voices",
    "require_env",
    "text_request_bytes",
]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_LOG_FORMATS = ("json", "text")
_MIB = 1 << 20
_MIN_RECEIVE_BYTES = 4096


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable.

    Raised at start-up only, so it is not a :class:`tts_common.errors.TtsError`
    (it never reaches a client as a gRPC status).
    """


def text_request_bytes(max_chars: int) -> int:
    """A receive limit for requests that carry up to ``max_chars`` characters of
    text: 4 bytes per character (UTF-8's most) plus room for the other fields,
    and never under 64 KiB."""
    return max(64 << 10, 4 * max_chars + (16 << 10))


def env_str(environ: Mapping[str, str], name: str, default: str) -> str:
    """The variable's value, stripped, or ``default`` if unset or empty."""
    value = environ.get(name, "").strip()
    return value if value else default


def require_env(environ: Mapping[str, str], name: str) -> str:
    """The variable's value, stripped; for settings with no sensible default.

    Raises:
        ConfigError: The variable is unset or empty; the message names it.
    """
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} environment variable not set")
    return value


def env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    """The variable as an int, or ``default`` if unset.

    Raises:
        ConfigError: The value is not an integer.
    """
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    """The variable as a float, or ``default`` if unset.

    Raises:
        ConfigError: The value is not a number.
    """
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """The variable as a bool (1/0, true/false, yes/no, on/off; any case).

    Raises:
        ConfigError: The value is none of those words.
    """
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be 1/0, true/false, yes/no or on/off; got {raw!r}")


def env_fields(
    environ: Mapping[str, str], prefix: str, defaults: Any, names: Sequence[str]
) -> dict[str, Any]:
    """``{name: value}`` for fields of the config dataclass ``defaults``, each read
    from ``<prefix><NAME>`` and parsed by its annotated type (bool, int, float or
    str), falling back to the field's value in ``defaults`` when unset.

    Raises:
        ConfigError: A value is malformed; the message names the variable.
    """
    # The default is the field's value, whatever its type: hence Any in that slot.
    parsers: dict[str, Callable[[Mapping[str, str], str, Any], object]] = {
        "bool": env_bool,
        "int": env_int,
        "float": env_float,
        "str": env_str,
    }
    types = {f.name: str(f.type) for f in fields(defaults)}
    return {
        name: parsers[types[name]](
            environ, prefix + name.upper(), getattr(defaults, name)
        )
        for name in names
    }


def env_secret(environ: Mapping[str, str], name: str) -> str:
    """A secret from ``<name>`` or from the file named by ``<name>_FILE`` (stripped;
    the file form suits Kubernetes Secrets mounted as files); empty when neither.

    Raises:
        ConfigError: Both are set, or the file cannot be read; the message names the
            variable, never the secret.
    """
    value, path = environ.get(name, "").strip(), environ.get(f"{name}_FILE", "").strip()
    if value and path:
        raise ConfigError(f"set {name} or {name}_FILE, not both")
    if not path:
        return value
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path!r} ({exc})") from None


def yaml_section(text: str, source: str, key: str) -> Any:
    """The value under top-level ``key`` of a YAML (or JSON) document, None when
    the document is no mapping or lacks it; ConfigError naming ``source`` when the
    text does not parse."""
    import yaml  # deferred: only configs that point at a file need it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{source}: not valid YAML or JSON") from None
    return data.get(key) if isinstance(data, dict) else None


def check_server_tls(cert_file: str, key_file: str, client_ca_file: str) -> None:
    """Reject a half-configured TLS server (names relative to the service prefix).

    Raises:
        ConfigError: Only one of the certificate and key, or a client CA without them.
    """
    if bool(cert_file) != bool(key_file):
        raise ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
    if client_ca_file and not cert_file:
        raise ConfigError("TLS_CLIENT_CA_FILE (mutual TLS) needs TLS_CERT_FILE too")


@dataclass(frozen=True)
class ServerConfig:
    """How one stage's gRPC server runs; every stage reads the same variables."""

    host: str = "[::]"
    """Interface to bind (``HOST``); ``[::]`` listens on every IPv4 and IPv6 address."""
    port: int = 50051
    """gRPC port (``PORT``); 0 picks a free one (tests)."""
    metrics_port: int = 0
    """Prometheus HTTP port (``METRICS_PORT``); 0 turns the endpoint off."""
    max_message_bytes: int = 64 * _MIB
    """Send limit per message (``MAX_MESSAGE_BYTES``); gRPC's 4 MiB default is less
    than a minute of float32 audio."""
    max_receive_bytes: int = 64 * _MIB
    """Receive limit per message (``MAX_RECEIVE_BYTES``): each service's default fits
    its largest request (:meth:`from_env`'s ``default_max_receive_bytes``), so a
    caller cannot make it buffer megabytes it would only refuse."""
    grace_s: float = 30.0
    """Seconds in-flight RPCs may run on after SIGTERM (``GRACE_S``)."""
    drain_delay_s: float = 0.0
    """Seconds between reporting NOT_SERVING and refusing new RPCs (``DRAIN_DELAY_S``),
    so probes and load balancers move traffic away before the listener closes."""
    log_level: str = "INFO"
    """Root log level name (``LOG_LEVEL``)."""
    log_format: str = "json"
    """``json`` (one object a line) or ``text`` (``LOG_FORMAT``)."""
    max_connection_age_s: float = 300.0
    """Seconds after which the server asks a client to reconnect
    (``MAX_CONNECTION_AGE_S``; 0 = never). Clients then re-resolve DNS, so replicas
    added by a scale-up start receiving traffic. Calls in flight on the old
    connection run to their end, however long (a long stream is never cut)."""
    max_workers: int = 1
    """Inference threads (``MAX_WORKERS``); one per model copy."""
    max_queue: int = 8
    """Inference jobs that may wait for a thread (``MAX_QUEUE``); more are refused with
    RESOURCE_EXHAUSTED instead of waiting without bound."""
    reflection: bool = True
    """Serve gRPC reflection (``REFLECTION``); switch it off where callers should not
    list the API (it is behind the API keys wherever those are on)."""
    tls_cert_file: str = ""
    """PEM certificate chain of the server (``TLS_CERT_FILE``); with ``TLS_KEY_FILE``
    the port speaks TLS only, and a plaintext client cannot connect."""
    tls_key_file: str = ""
    """PEM private key of that certificate (``TLS_KEY_FILE``)."""
    tls_client_ca_file: str = ""
    """PEM CA bundle that client certificates must chain to (``TLS_CLIENT_CA_FILE``):
    mutual TLS, a client without such a certificate is refused in the handshake."""

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages use the variable names."""
        for name in ("port", "metrics_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ConfigError(f"{name.upper()} must be in 0..65535")
        if self.max_message_bytes < _MIB:
            raise ConfigError(f"MAX_MESSAGE_BYTES must be at least {_MIB}")
        if self.max_receive_bytes < _MIN_RECEIVE_BYTES:
            raise ConfigError(
                f"MAX_RECEIVE_BYTES must be at least {_MIN_RECEIVE_BYTES}"
            )
        if self.grace_s < 0 or self.drain_delay_s < 0 or self.max_connection_age_s < 0:
            raise ConfigError(
                "GRACE_S, DRAIN_DELAY_S and MAX_CONNECTION_AGE_S must not be negative"
            )
        if self.log_format not in _LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be one of {_LOG_FORMATS}")
        if not isinstance(logging.getLevelName(self.log_level), int):
            raise ConfigError(f"LOG_LEVEL {self.log_level!r} is not a level name")
        if self.max_workers < 1 or self.max_queue < 0:
            raise ConfigError("MAX_WORKERS must be at least 1 and MAX_QUEUE at least 0")
        check_server_tls(self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file)

    @property
    def address(self) -> str:
        """``host:port`` to bind."""
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        prefix: str = "",
        *,
        default_port: int = 50051,
        default_metrics_port: int = 0,
        default_max_receive_bytes: int = 64 * _MIB,
    ) -> ServerConfig:
        """Read ``<prefix>PORT``, ``<prefix>METRICS_PORT``, ... from ``environ``.

        Args:
            environ: The environment (pass ``os.environ``; tests pass a dict).
            prefix: Prepended verbatim to each name, e.g. ``"ACOUSTIC_"``.
            default_port: Port when ``<prefix>PORT`` is unset (each stage has its own).
            default_metrics_port: Metrics port when ``<prefix>METRICS_PORT`` is unset.
            default_max_receive_bytes: Receive limit when ``<prefix>MAX_RECEIVE_BYTES``
                is unset: the largest request the service takes, with room to spare.

        Raises:
            ConfigError: A value is malformed or out of range; the message names it.
        """
        d = cls()
        try:
            return cls(
                host=env_str(environ, f"{prefix}HOST", d.host),
                port=env_int(environ, f"{prefix}PORT", default_port),
                metrics_port=env_int(
                    environ, f"{prefix}METRICS_PORT", default_metrics_port
                ),
                max_message_bytes=env_int(
                    environ, f"{prefix}MAX_MESSAGE_BYTES", d.max_message_bytes
                ),
                max_receive_bytes=env_int(
                    environ, f"{prefix}MAX_RECEIVE_BYTES", default_max_receive_bytes
                ),
                grace_s=env_float(environ, f"{prefix}GRACE_S", d.grace_s),
                max_connection_age_s=env_float(
                    environ, f"{prefix}MAX_CONNECTION_AGE_S", d.max_connection_age_s
                ),
                drain_delay_s=env_float(
                    environ, f"{prefix}DRAIN_DELAY_S", d.drain_delay_s
                ),
                log_level=env_str(environ, f"{prefix}LOG_LEVEL", d.log_level).upper(),
                log_format=env_str(
                    environ, f"{prefix}LOG_FORMAT", d.log_format
                ).lower(),
                max_workers=env_int(environ, f"{prefix}MAX_WORKERS", d.max_workers),
                max_queue=env_int(environ, f"{prefix}MAX_QUEUE", d.max_queue),
                **env_fields(
                    environ,
                    prefix,
                    d,
                    (
                        "reflection",
                        "tls_cert_file",
                        "tls_key_file",
                        "tls_client_ca_file",
                    ),
                ),
            )
        except ConfigError as exc:
            if prefix:
                raise ConfigError(f"{exc} (variable prefix {prefix!r})") from None
            raise


@dataclass(frozen=True)
class ModelStageConfig:
    """Settings every model-serving stage shares; stage configs extend it.

    Each field is read from ``<prefix>MODEL_DIR``, ``<prefix>VOICES``,
    ``<prefix>DEVICE`` and ``<prefix>TORCH_THREADS`` by :meth:`model_fields`.
    """

    model_dir: str
    """ModelScope model directory (``<prefix>MODEL_DIR``, required)."""
    voices: tuple[str, ...] = ()
    """Voices to load (``<prefix>VOICES``, comma-separated); empty = every voice in
    voices.json. The first one loaded is the default voice."""
    device: str = "cpu"
    """Torch device of the models (``<prefix>DEVICE``), e.g. ``cpu`` or ``cuda:0``."""
    torch_threads: int = 0
    """Intra-op threads torch may use (``<prefix>TORCH_THREADS``); 0 = the CPUs this
    process may use (its cgroup quota or affinity, which torch's default ignores: in
    a 2-CPU pod on a 64-core node torch would start 32 or more spinning threads).
    With several inference workers, workers x threads should not exceed the cores."""

    def __post_init__(self) -> None:
        if self.torch_threads < 0:
            raise ConfigError("TORCH_THREADS must not be negative")

    def intra_op_threads(self, torch_default: int) -> int:
        """Threads for ``torch.set_num_threads``: as configured, else torch's
        default capped by :func:`cpu_budget`."""
        return self.torch_threads or max(1, min(torch_default, cpu_budget()))

    def voice_names(self) -> tuple[str, ...]:
        """Voices to load, default first: as configured, else all in voices.json."""
        from tts_common.modeldir import list_voices

        return self.voices or tuple(list_voices(self.model_dir))

    @staticmethod
    def model_fields(environ: Mapping[str, str], prefix: str) -> dict[str, object]:
        """The shared fields read from ``environ`` (``<prefix>MODEL_DIR`` required)."""
        return {
            "model_dir": require_env(environ, f"{prefix}MODEL_DIR"),
            "voices": parse_voices(env_str(environ, f"{prefix}VOICES", "")),
            "device": env_str(environ, f"{prefix}DEVICE", "cpu"),
            "torch_threads": env_int(environ, f"{prefix}TORCH_THREADS", 0),
        }


def cpu_budget(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use: its affinity, capped by a cgroup CPU quota
    (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``), rounded up."""
    cpus = len(os.sched_getaffinity(0))
    for quota_file, period_file in (
        (cgroup / "cpu.max", None),
        (cgroup / "cpu" / "cpu.cfs_quota_us", cgroup / "cpu" / "cpu.cfs_period_us"),
    ):
        try:
            fields = quota_file.read_text().split()
            if period_file is not None:
                fields.append(period_file.read_text().strip())
            quota, period = int(fields[0]), int(fields[1])
        except (OSError, ValueError, IndexError):
            continue  # "max" (no quota), another cgroup version, or none
        if quota > 0 and period > 0:
            return max(1, min(cpus, -(-quota // period)))
    return cpus


def parse_voices(raw: str) -> tuple[str, ...]:
    """Split a comma-separated voice list, dropping blanks and repeats (order kept)."""
    return tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
