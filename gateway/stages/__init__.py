"""Calls to the three stages: typed clients over replica sets, deadlines, retries of
UNAVAILABLE on another replica, and mid-stream failover of a sentence.
"""

from gateway.stages.clients import AcousticClient, FrontendClient, VocoderClient
from gateway.stages.deadline import Deadline
from gateway.stages.errors import StageError, StreamBroken
from gateway.stages.failover import FailoverPolicy, resumed
from gateway.stages.replicas import Keepalive, ReplicaSet, wait_until_serving
from gateway.stages.retry import RetryPolicy, call_with_retry
from gateway.stages.steps import (
    SentenceRun,
    Step,
    acoustic_step,
    no_input,
    vocoder_step,
)

__all__ = [
    "AcousticClient",
    "Deadline",
    "FailoverPolicy",
    "FrontendClient",
    "Keepalive",
    "ReplicaSet",
    "RetryPolicy",
    "SentenceRun",
    "StageError",
    "Step",
    "StreamBroken",
    "VocoderClient",
    "acoustic_step",
    "call_with_retry",
    "no_input",
    "resumed",
    "vocoder_step",
    "wait_until_serving",
]
