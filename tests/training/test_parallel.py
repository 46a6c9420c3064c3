"""Data-parallel training: two real gloo processes average their gradients exactly
and agree on when to stop."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.multiprocessing.spawn import spawn

from training.parallel import Group


def _inputs(rank: int) -> torch.Tensor:
    return torch.randn(5, 4, generator=torch.Generator().manual_seed(100 + rank))


def _model() -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3)


def _grads(model: torch.nn.Module, x: torch.Tensor) -> None:
    model.zero_grad()
    (model(x) ** 2).mean().backward()


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if sys.platform == "linux":  # gloo on loopback, whatever the hostname resolves to
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", rank=rank, world_size=2)
    group = Group(dist.get_rank(), dist.get_world_size())
    model = _model()
    _grads(model, _inputs(rank))
    group.average_gradients(list(model.parameters()))
    stop = group.any(rank == 1)  # only rank 1 was asked to stop
    torch.save(
        {"grads": [p.grad for p in model.parameters()], "stop": stop},
        Path(out) / f"rank{rank}.pt",
    )
    group.close()


def _grad(p: torch.nn.Parameter) -> torch.Tensor:
    assert p.grad is not None
    return p.grad.clone()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_average_gradients_and_stop_together(tmp_path: Path) -> None:
    spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    expected = []
    for rank in (0, 1):
        model = _model()
        _grads(model, _inputs(rank))
        expected.append([_grad(p) for p in model.parameters()])
    mean = [(a + b) / 2 for a, b in zip(*expected, strict=True)]
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert got["stop"] is True
        for g, m in zip(got["grads"], mean, strict=True):
            torch.testing.assert_close(g, m)
    assert not torch.allclose(expected[0][0], expected[1][0])  # the halves differ


def test_a_batch_is_shared_by_interleaving() -> None:
    batch = list(range(7))
    parts = [Group(rank, 2).share(batch) for rank in (0, 1)]
    assert parts == [[0, 2, 4, 6], [1, 3, 5]]
    assert Group().share(batch) == batch
    assert Group().any(True) and not Group().any(False)
