"""A small NetworkPolicy evaluator for the tests: may pod A open a TCP port on pod B?

It implements the subset of networking.k8s.io/v1 semantics the manifests use (pod
and namespace label selectors with matchLabels, ipBlock, numeric TCP ports), and
fails loudly on anything else, so a policy it cannot judge is never judged wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Pod:
    """A pod as the policies see it."""

    labels: Labels
    namespace: str
    namespace_labels: Labels


_SUPPORTED_SELECTOR_KEYS = {"matchLabels"}


def _matches(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """``matchLabels`` selection; an empty selector selects everything."""
    selector = selector or {}
    unsupported = set(selector) - _SUPPORTED_SELECTOR_KEYS
    if unsupported:
        raise NotImplementedError(f"selector keys {unsupported} are not evaluated")
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_matches(peer: Mapping[str, Any], other: Pod, policy_ns: str) -> bool:
    """One ``from``/``to`` entry against the pod at the other end."""
    if "ipBlock" in peer:
        # Only 0.0.0.0/0 is used (the download job's egress to the internet); it
        # also covers pod IPs, which is what Kubernetes does for ipBlock.
        if peer["ipBlock"].get("cidr") != "0.0.0.0/0" or peer["ipBlock"].get("except"):
            raise NotImplementedError(f"ipBlock {peer['ipBlock']} is not evaluated")
        return True
    if "namespaceSelector" in peer:
        if not _matches(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_ns:
        return False
    if "podSelector" in peer:
        return _matches(peer["podSelector"], other.labels)
    return True


def _port_matches(ports: Sequence[Mapping[str, Any]] | None, port: int) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        if not isinstance(entry.get("port"), int) or "endPort" in entry:
            raise NotImplementedError(f"port entry {entry} is not evaluated")
        if entry["port"] == port:
            return True
    return False


def _direction_allows(
    policies: Sequence[Mapping[str, Any]],
    subject: Pod,
    other: Pod,
    port: int,
    direction: str,
) -> bool:
    """Whether ``subject``'s policies allow the connection in ``direction``."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"].get("namespace") == subject.namespace
        and _matches(p["spec"].get("podSelector"), subject.labels)
        and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True  # not isolated in this direction
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            ns = policy["metadata"]["namespace"]
            if (not peers or any(_peer_matches(x, other, ns) for x in peers)) and (
                _port_matches(rule.get("ports"), port)
            ):
                return True
    return False


def allowed(
    policies: Sequence[Mapping[str, Any]], src: Pod, dst: Pod, port: int
) -> bool:
    """True if ``src`` may connect to ``dst`` on TCP ``port`` (egress and ingress)."""
    return _direction_allows(policies, src, dst, port, "Egress") and _direction_allows(
        policies, dst, src, port, "Ingress"
    )
