"""Security settings without servers: API key files, rate buckets, integrity tags,
secrets from files, TLS variable checks, and that no secret reaches a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cache import CacheConfig
from gateway.cache.integrity import EntrySeal
from gateway.config import GatewayConfig
from gateway.http.config import HttpConfig
from tts_common.apikeys import ApiKey, ApiKeys, RateLimiter, presented_key
from tts_common.config import ConfigError, ServerConfig, env_secret
from tts_common.tls import ClientTls

K1, K2 = "k1-0123456789abcdefgh", "k2-0123456789abcdefgh"
STAGES = {"FRONTEND_ADDR": "f:1", "ACOUSTIC_ADDR": "a:1", "VOCODER_ADDR": "v:1"}


def test_key_lines_and_yaml_give_the_same_keys(tmp_path: Path) -> None:
    lines = ApiKeys.parse(f"# team keys\nalice:{K1}\n\nbob:{K2}:5:10\n", "f")
    yaml_text = (f"keys:\n  - {{name: alice, key: {K1}}}\n"
                 f"  - {{name: bob, key: {K2}, rate_per_s: 5, burst: 10}}\n")  # fmt: skip
    assert ApiKeys.parse(yaml_text, "f", yaml_format=True) == lines
    assert [(k.name, k.rate_per_s, k.burst) for k in lines.keys] == [
        ("alice", 0.0, 1), ("bob", 5.0, 10)]  # fmt: skip
    assert [lines.match(k) for k in (K1, K2)] == list(lines.keys)
    assert lines.match("k1-0123456789abcdefgX") is None and lines.match(None) is None
    path = tmp_path / "keys.yaml"
    path.write_text(yaml_text)
    env = {**STAGES, "GATEWAY_API_KEYS_FILE": str(path),
           "GATEWAY_API_KEYS": "carol:carol-key-0123456789"}  # fmt: skip
    cfg = GatewayConfig.from_env(env)
    assert [k.name for k in cfg.api_keys.keys] == ["alice", "bob", "carol"]
    assert K1 not in repr(cfg) and "carol-key" not in repr(cfg)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("alice", "name:key"), (f"bad name:{K1}", "key name"), ("alice:short", "16 to 256"),
     (f"alice:{K1}\nalice:{K2}", "unique"), (f"a:{K1}\nb:{K1}", "twice"),
     (f"alice:{K1}:-1", "rate_per_s"), (f"alice:{K1}:x", "rate_per_s")],
)  # fmt: skip
def test_bad_key_entries_are_refused_without_echoing_keys(text, fragment) -> None:
    with pytest.raises(ConfigError, match=fragment) as info:
        ApiKeys.parse(text, "GATEWAY_API_KEYS_FILE")
    assert K1 not in str(info.value) and K2 not in str(info.value)


def test_missing_keys_file_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="HTTP_API_KEYS_FILE"):
        HttpConfig.from_env({"HTTP_API_KEYS_FILE": "/no/such/file"})


def test_presented_key_forms() -> None:
    assert presented_key(f"Bearer {K1}", None) == K1
    assert presented_key(f"bearer  {K1} ", None) == K1
    assert presented_key(None, K2) == K2
    assert presented_key(f"Basic {K1}", None) is None
    assert presented_key("Bearer ", " ") is None


def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    key = ApiKey("bob", b"", rate_per_s=2.0, burst=3)
    assert [limiter.take(key) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take(key) == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take(key) == 0.0
    assert limiter.take(key) > 0
    now[0] = 100.0  # a long pause refills to the burst, not beyond
    assert [limiter.take(key) == 0.0 for _ in range(4)] == [True, True, True, False]
    assert limiter.take(ApiKey("free", b"")) == 0.0


def test_entry_seal_binds_key_digest_and_kind() -> None:
    seal = EntrySeal(b"secret-key-0123456789")
    value = seal.seal(b"TTS2", "d1", b"body")
    assert seal.open(b"TTS2", "d1", value) == b"body"
    assert seal.open(b"TTS2", "d2", value) is None  # copied under another key
    assert seal.open(b"TTF2", "d1", value) is None
    assert seal.open(b"TTS2", "d1", value[:-1] + b"X") is None
    assert seal.open(b"TTS2", "d1", value[:10]) is None
    assert EntrySeal(b"other-key-0123456789").open(b"TTS2", "d1", value) is None


def test_secrets_from_variables_or_files(tmp_path: Path) -> None:
    path = tmp_path / "hmac"
    path.write_text("from-a-file-0123456789\n")
    assert env_secret({"X_FILE": str(path)}, "X") == "from-a-file-0123456789"
    assert env_secret({"X": " v "}, "X") == "v" and env_secret({}, "X") == ""
    with pytest.raises(ConfigError, match="not both"):
        env_secret({"X": "a", "X_FILE": str(path)}, "X")
    with pytest.raises(ConfigError, match="X_FILE"):
        env_secret({"X_FILE": str(tmp_path / "none")}, "X")
    env = {"REDIS_URL": "rediss://r:6380/0", "REDIS_PASSWORD_FILE": str(path),
           "GATEWAY_CACHE_HMAC_KEY": "hmac-key-0123456789",
           "REDIS_TLS_CA_FILE": "/ca.pem"}  # fmt: skip
    cfg = CacheConfig.from_env(env)
    assert cfg.redis_password == "from-a-file-0123456789"
    assert cfg.redis_tls == ClientTls(ca_file="/ca.pem")
    assert "from-a-file" not in repr(cfg) and "hmac-key" not in repr(cfg)
    with pytest.raises(ConfigError, match="at least 16"):
        CacheConfig.from_env({"GATEWAY_CACHE_HMAC_KEY": "short"})


def test_tls_variables_per_service() -> None:
    env = {"ACOUSTIC_TLS_CERT_FILE": "/c", "ACOUSTIC_TLS_KEY_FILE": "/k",
           "ACOUSTIC_TLS_CLIENT_CA_FILE": "/ca", "ACOUSTIC_REFLECTION": "false"}  # fmt: skip
    cfg = ServerConfig.from_env(env, "ACOUSTIC_")
    assert (cfg.tls_cert_file, cfg.tls_key_file, cfg.tls_client_ca_file) == (
        "/c", "/k", "/ca")  # fmt: skip
    assert cfg.reflection is False and ServerConfig().reflection is True
    with pytest.raises(ConfigError, match="ACOUSTIC_"):
        ServerConfig.from_env({"ACOUSTIC_TLS_CERT_FILE": "/c"}, "ACOUSTIC_")
    with pytest.raises(ConfigError, match="TLS_CLIENT_CA_FILE"):
        ServerConfig(tls_client_ca_file="/ca")
    gateway = GatewayConfig.from_env({**STAGES, "GATEWAY_STAGE_TLS_CA_FILE": "/ca"})
    assert gateway.stage_tls.enabled and not gateway.server.tls_cert_file
    with pytest.raises(ConfigError, match="GATEWAY_STAGE_"):
        GatewayConfig.from_env({**STAGES, "GATEWAY_STAGE_TLS_CERT_FILE": "/c",
                                "GATEWAY_STAGE_TLS_KEY_FILE": "/k"})  # fmt: skip
    http = HttpConfig.from_env({"HTTP_TLS_CERT_FILE": "/c", "HTTP_TLS_KEY_FILE": "/k",
                                "HTTP_GATEWAY_TLS_CA_FILE": "/ca"})  # fmt: skip
    assert http.tls_cert_file == "/c" and http.gateway_tls.ca_file == "/ca"
    with pytest.raises(ConfigError, match="HTTP_TLS_CERT_FILE"):
        HttpConfig.from_env({"HTTP_TLS_KEY_FILE": "/k"})
