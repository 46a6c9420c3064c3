"""The failover scenario across "hosts": each process in its own Linux network
namespace, joined to a bridge by a veth pair on 10.77.0.0/24 (all made here with
``ip``), two acoustic and two vocoder hosts. Mid-load one vocoder host is unplugged
(its link goes down: no RST, no FIN, a black hole that only the gateway's keepalive
settings reveal); every request still completes with the undisturbed audio.

Needs root and a kernel that allows ``ip netns add``; skips with the reason
otherwise. The namespaces and the bridge are removed even when the test fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.integration.test_failover import MODEL_DIR, STACK_ENV, check_failover_run
from tts_common.stack import LocalStack

pytestmark = pytest.mark.slow

SUBNET = "10.77.0"
HOSTS = ("gateway", "frontend", "acoustic", "acoustic-2", "vocoder", "vocoder-2")
"""One namespace each; Redis runs on the gateway's host (only the gateway uses it)."""
KEEPALIVE_ENV = {"GATEWAY_KEEPALIVE_TIME_S": "11", "GATEWAY_KEEPALIVE_TIMEOUT_S": "2"}
"""The stages accept pings every 10 s; a black-holed host is noticed within ~13 s."""


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def _must(*args: str) -> None:
    done = _ip(*args)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Network:
    """The namespaces ("hosts") and the root-side end of each host's cable."""

    hosts: dict[str, tuple[str, str]]
    """Process name -> (namespace, address), as LocalStack takes it."""
    cables: dict[str, str]
    """Process name -> its veth end on the bridge."""

    def unplug(self, name: str) -> None:
        """Take ``name``'s host off the network: its cable goes down."""
        _must("link", "set", self.cables[name], "down")


def _add_host(tag: str, bridge: str, index: int, name: str, net: Network) -> None:
    ns, addr = f"ttsfo{tag}-{name}", f"{SUBNET}.{10 + index}"
    outer, inner = f"tfo{tag}{index}", f"tfi{tag}{index}"
    _must("netns", "add", ns)
    net.hosts[name] = (ns, addr)
    _must("link", "add", outer, "type", "veth", "peer", "name", inner)
    net.cables[name] = outer
    _must("link", "set", inner, "netns", ns)
    _must("link", "set", outer, "master", bridge, "up")
    _must("-n", ns, "addr", "add", f"{addr}/24", "dev", inner)
    _must("-n", ns, "link", "set", inner, "up")
    _must("-n", ns, "link", "set", "lo", "up")


@pytest.fixture
def network() -> Iterator[Network]:
    """Six hosts on a bridge; skips where namespaces cannot be made."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2's `ip` is not installed (apt-get install iproute2)")
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces (`ip netns add`)")
    if _ip("-o", "addr", "show", "to", f"{SUBNET}.0/24").stdout.strip():
        pytest.skip(f"{SUBNET}.0/24 is already in use on this machine")
    tag, net = str(os.getpid() % 100000), Network({}, {})
    bridge = f"tfb{tag}"
    try:
        probe = _ip("netns", "add", f"ttsfo{tag}-gateway")
        if probe.returncode != 0:
            pytest.skip(f"`ip netns add` is not permitted here: {probe.stderr.strip()}")
        _must("netns", "del", f"ttsfo{tag}-gateway")
        _must("link", "add", bridge, "type", "bridge")
        _must("addr", "add", f"{SUBNET}.1/24", "dev", bridge)
        _must("link", "set", bridge, "up")
        for index, name in enumerate(HOSTS):
            _add_host(tag, bridge, index, name, net)
        yield net
    finally:
        for ns, _ in net.hosts.values():
            _ip("netns", "del", ns)  # also removes the veth pairs
        for cable in net.cables.values():
            _ip("link", "del", cable)  # in case a namespace outlived its pair
        _ip("link", "del", bridge)


def test_vocoder_host_unplugged_under_load_loses_no_audio(network: Network) -> None:
    """Unplug one of two vocoder hosts while eight streams run: all complete, equal
    to the undisturbed audio, and the cache they filled is equal to it too."""
    hosts = {**network.hosts, "redis": network.hosts["gateway"]}
    with LocalStack(
        MODEL_DIR, replicas={"acoustic": 2, "vocoder": 2},
        env={**STACK_ENV, **KEEPALIVE_ENV}, hosts=hosts, startup_timeout_s=120,
        grace_s=5,
    ) as stack:  # fmt: skip
        assert stack.gateway_address.startswith(network.hosts["gateway"][1])
        unplug = lambda: network.unplug("vocoder-2")  # noqa: E731
        recovery_s = asyncio.run(check_failover_run(stack, unplug))
        # Noticed well before the 60 s request deadline: by TCP_USER_TIMEOUT (gRPC
        # sets it to the keepalive timeout, 2 s) on streams with unacknowledged
        # writes, by the keepalive ping (11 s + 2 s) on streams only read from.
        assert recovery_s < 35, f"load ended {recovery_s:.0f} s after the unplug"
        # The host was cut off, not its process: the gateway never heard it die.
        assert stack.processes["vocoder-2"].popen.poll() is None
