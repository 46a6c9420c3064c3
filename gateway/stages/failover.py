"""Mid-stream failover: re-run a broken sentence elsewhere, skip what was sent.

A sentence's acoustic and vocoder streams are committed once open, so gRPC cannot
retry them. When one breaks because of its replica or the connection
(:class:`~gateway.stages.retry.StreamBroken`; the replica is already suspect, so new calls
go elsewhere), :func:`resumed` runs the sentence's step chain again from the start
and drops the first samples, as many as were already handed on. That is exact
because synthesis is deterministic for one model revision: the acoustic stage
bit-for-bit, the vocoder within ±1 int16 step (its dynamic batching may reorder
float sums). A re-run made by other revisions than the audio already sent is not
spliced in. Re-runs are bounded per sentence and stay inside the caller's deadline;
every other error passes through unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from gateway.stages.errors import StageError, StreamBroken
from gateway.stages.steps import SentenceRun
from tts_common.audio import Int16Array

__all__ = ["Chain", "FailoverPolicy", "resumed"]

_LOGGER = logging.getLogger(__name__)

Chain = Callable[[], AsyncGenerator[Int16Array, None]]
"""Starts a sentence's step chain afresh; yields its int16 PCM pieces."""


def _ignore(stage: str) -> None:
    return None


@dataclass(frozen=True)
class FailoverPolicy:
    """How a sentence whose stream broke is continued."""

    retries: int = 2
    """Re-runs of one sentence after a broken stream (``GATEWAY_FAILOVER_RETRIES``);
    0 turns mid-stream failover off."""
    on_failover: Callable[[str], None] = _ignore
    """Called with the broken stage once per re-run (the failover counter)."""


def _revisions(run: SentenceRun) -> tuple[str, str]:
    mel = run.mel_header.revision if run.mel_header is not None else ""
    voc = run.vocode_header.revision if run.vocode_header is not None else ""
    return mel, voc


async def resumed(
    chain: Chain, run: SentenceRun, policy: FailoverPolicy, sentence: int
) -> AsyncGenerator[Int16Array, None]:
    """The sentence's PCM, continuous across re-runs on other replicas.

    Args:
        chain: Starts the step chain (a new one per attempt).
        run: The sentence's shared state (deadline, stage headers).
        policy: Re-run bound and failover callback.
        sentence: Index of the sentence, for the log.

    Raises:
        StageError: UNAVAILABLE once ``policy.retries`` re-runs broke too, or when a
            re-run disagrees with the audio sent (other revision, shorter);
            DEADLINE_EXCEEDED when the deadline passed before a re-run.
    """
    sent, broken = 0, 0
    made_by: tuple[str, str] | None = None
    while True:
        skip = sent
        try:
            async with contextlib.aclosing(chain()) as pieces:
                async for pcm in pieces:
                    made_by = made_by or _revisions(run)
                    if _revisions(run) != made_by:
                        raise StageError("UNAVAILABLE", _other_revision(made_by, run))
                    cut = min(skip, pcm.size)
                    skip -= cut
                    if cut < pcm.size:
                        sent += pcm.size - cut
                        yield pcm[cut:]
        except StreamBroken as exc:
            broken += 1
            if broken > policy.retries:
                raise StageError(
                    "UNAVAILABLE",
                    f"{exc.message}; sentence {sentence} gave up after "
                    f"{policy.retries} failovers; retry later",
                ) from None
            run.deadline.timeout(exc.stage)  # DEADLINE_EXCEEDED once none is left
            policy.on_failover(exc.stage)
            _LOGGER.info(
                "sentence %d: %s stream to %s broke after %d samples were sent; "
                "re-running it on another replica (failover %d of %d)",
                sentence, exc.stage, exc.addr, sent, broken, policy.retries,
            )  # fmt: skip
            continue
        if skip:
            raise StageError(
                "UNAVAILABLE",
                f"sentence {sentence} came out {skip} samples shorter on re-run than "
                "the audio already sent; the replicas disagree",
            )
        return


def _other_revision(made_by: tuple[str, str], run: SentenceRun) -> str:
    now = _revisions(run)
    return (
        f"a replica now serves revisions {now[0]}/{now[1]}, not {made_by[0]}/"
        f"{made_by[1]} that began this sentence; cannot resume it; retry"
    )
