"""The voices every stage serves, gathered from their GetModelInfo answers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.stages import AcousticClient, Deadline, FrontendClient, VocoderClient
from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2
from tts_common.errors import VoiceNotFound

__all__ = ["VoiceCatalog", "VoiceEntry", "load_catalog"]


@dataclass(frozen=True)
class VoiceEntry:
    """One voice as the gateway offers it."""

    name: str
    """Voice name."""
    emotions: tuple[str, ...]
    """Emotion ids the acoustic model accepts; empty = neutral only."""
    speakers: tuple[str, ...]
    """Speaker ids the acoustic model accepts; empty = single speaker."""
    sample_rate_hz: int
    """Native output rate, in Hz (the vocoder's)."""
    frontend_revision: str
    """Frontend revision, SHA-256 hex."""
    acoustic_revision: str
    """Acoustic model revision, SHA-256 hex."""
    vocoder_revision: str
    """Vocoder revision, SHA-256 hex."""

    def revisions(self) -> audio_pb2.ModelRevisions:
        """The revisions as the proto message."""
        return audio_pb2.ModelRevisions(
            frontend=self.frontend_revision,
            acoustic=self.acoustic_revision,
            vocoder=self.vocoder_revision,
        )


@dataclass(frozen=True)
class VoiceCatalog:
    """The voices all three stages serve, and the frontend's text limit."""

    voices: dict[str, VoiceEntry]
    """By name."""
    default_voice: str
    """What an empty ``voice`` means."""
    frontend_max_chars: int
    """The frontend's own text limit in code points; 0 = none reported."""

    def resolve(self, name: str) -> VoiceEntry:
        """The voice called ``name`` (empty = the default).

        Raises:
            VoiceNotFound: No such voice; the message lists the ones there are.
        """
        entry = self.voices.get(name or self.default_voice)
        if entry is None:
            known = ", ".join(sorted(self.voices)) or "none"
            raise VoiceNotFound(
                f"voice {name!r} not found; available voices: {known} (see ListVoices)"
            )
        return entry

    def to_proto(self) -> gateway_service_pb2.ListVoicesResponse:
        """The ListVoices answer, sorted by name."""
        return gateway_service_pb2.ListVoicesResponse(
            voices=[
                gateway_service_pb2.Voice(
                    name=v.name,
                    emotions=v.emotions,
                    speakers=v.speakers,
                    sample_rate_hz=v.sample_rate_hz,
                    revisions=v.revisions(),
                )
                for _, v in sorted(self.voices.items())
            ],
            default_voice=self.default_voice,
        )


async def load_catalog(
    frontend: FrontendClient,
    acoustic: AcousticClient,
    vocoder: VocoderClient,
    deadline: Deadline,
) -> VoiceCatalog:
    """Ask each stage for its voices and keep those the acoustic and vocoder share.

    A frontend that lists voices narrows the set further; one that lists none
    prepares symbols for any voice.

    Raises:
        StageError: A stage could not answer.
    """
    fe, am, voc = await asyncio.gather(
        frontend.model_info(deadline),
        acoustic.model_info(deadline),
        vocoder.model_info(deadline),
    )
    vocoders = {v.name: v for v in voc.voices}
    frontend_names = {v.name for v in fe.voices}
    voices: dict[str, VoiceEntry] = {}
    for v in am.voices:
        if v.name not in vocoders or (frontend_names and v.name not in frontend_names):
            continue
        rate = vocoders[v.name].sample_rate_hz or v.sample_rate_hz
        voices[v.name] = VoiceEntry(
            name=v.name,
            emotions=tuple(v.emotions),
            speakers=tuple(v.speakers),
            sample_rate_hz=rate,
            frontend_revision=fe.revision,
            acoustic_revision=v.revision,
            vocoder_revision=vocoders[v.name].revision,
        )
    default = (
        am.default_voice if am.default_voice in voices else min(voices, default="")
    )
    return VoiceCatalog(voices, default, int(fe.max_text_chars))
