"""The gateway's audio edge: gain, resampling and the client's encoding, once.

Unary responses are one complete file (``encode_audio``). Streams are one file cut
into chunks, written as the audio arrives:

* PCM passes through; WAV is a header whose RIFF and data sizes are 0xFFFFFFFF
  ("unknown", as streaming WAV writers do), then raw PCM.
* FLAC, OGG_OPUS and MP3 are encoded incrementally with ``soundfile`` writing into a
  forward-only sink: whatever the encoder has written is sent with the next chunk.
  Encoders that go back at close to fill in totals (FLAC's STREAMINFO sample count
  and MD5, LAME's Xing/Info frame) cannot reach bytes already sent, so a streamed
  FLAC says "length unknown" (total samples 0, the streamable form ffmpeg and flac
  read; libsndfile needs the count patched in) and a streamed MP3 starts with the
  blank placeholder frame LAME reserves (one frame of silence to decoders) and is
  constant-bitrate, so players can estimate its length. Encoders buffer a little
  (a FLAC block, an MP3 frame, an Ogg page of about a second of Opus), which is the
  latency these encodings add.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol, cast

import numpy as np
import soundfile as sf

from sambert_tts_protos.v1 import audio_pb2
from tts_common.audio import (
    Int16Array,
    StreamResampler,
    apply_gain_db,
    encode_audio,
    pcm16_to_bytes,
)

__all__ = ["AudioEdge", "resolve_encoding"]

_Enc = audio_pb2.AudioEncoding
_UNKNOWN_SIZE = 0xFFFFFFFF
_STREAM_FORMATS: dict[int, tuple[str, str, dict[str, Any]]] = {
    _Enc.AUDIO_ENCODING_FLAC: ("FLAC", "PCM_16", {}),
    _Enc.AUDIO_ENCODING_OGG_OPUS: ("OGG", "OPUS", {}),
    # Constant bitrate: with no Xing frame filled in, length estimates need it.
    _Enc.AUDIO_ENCODING_MP3: ("MP3", "MPEG_LAYER_III", {"bitrate_mode": "CONSTANT"}),
}


def resolve_encoding(encoding: int) -> audio_pb2.AudioEncoding:
    """The encoding actually produced: unspecified means raw PCM (see the proto)."""
    if encoding == _Enc.AUDIO_ENCODING_UNSPECIFIED:
        return _Enc.AUDIO_ENCODING_PCM_S16LE
    return cast("audio_pb2.AudioEncoding", encoding)


class _StreamEncoder(Protocol):
    def write(self, pcm: Int16Array) -> bytes: ...

    def close(self) -> bytes: ...


class _RawEncoder:
    """Headerless PCM: the bytes as they are."""

    def write(self, pcm: Int16Array) -> bytes:
        return pcm16_to_bytes(pcm)

    def close(self) -> bytes:
        return b""


class _WavStreamEncoder:
    """A WAV header with unknown sizes, then raw PCM."""

    def __init__(self, sample_rate_hz: int) -> None:
        self._header: bytes | None = wav_stream_header(sample_rate_hz)

    def write(self, pcm: Int16Array) -> bytes:
        header, self._header = self._header or b"", None
        return header + pcm16_to_bytes(pcm)

    def close(self) -> bytes:
        return self._header or b""


def wav_stream_header(sample_rate_hz: int) -> bytes:
    """A 44-byte mono 16-bit PCM WAV header whose sizes say "unknown"."""
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate_hz, sample_rate_hz * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", _UNKNOWN_SIZE)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", _UNKNOWN_SIZE)
    )


class _ForwardSink:
    """A file-like target that hands its bytes on and forgets them.

    Writes behind what was already handed on (an encoder finalizing its header at
    close) are dropped: those bytes are with the client already.
    """

    def __init__(self) -> None:
        self._base = 0  # file offset of _pending[0]
        self._pending = bytearray()
        self._pos = 0
        self._end = 0

    def write(self, data: bytes) -> int:
        size = len(data)
        start, payload = self._pos, bytes(data)
        if start < self._base:
            payload, start = payload[self._base - start :], self._base
        if payload:
            offset = start - self._base
            if offset > len(self._pending):
                self._pending.extend(b"\0" * (offset - len(self._pending)))
            self._pending[offset : offset + len(payload)] = payload
        self._pos += size
        self._end = max(self._end, self._pos)
        return size

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._end}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        return b""  # write-only encoders never read back

    def take(self) -> bytes:
        out = bytes(self._pending)
        self._base += len(out)
        self._pending.clear()
        return out


class _SoundFileStreamEncoder:
    """FLAC / Ogg Opus / MP3 through libsndfile, flushed after every write."""

    def __init__(self, encoding: int, sample_rate_hz: int) -> None:
        container, subtype, extra = _STREAM_FORMATS[encoding]
        self._sink = _ForwardSink()
        self._file = sf.SoundFile(
            self._sink,
            "w",
            samplerate=sample_rate_hz,
            channels=1,
            format=container,
            subtype=subtype,
            **extra,
        )

    def write(self, pcm: Int16Array) -> bytes:
        if pcm.size:
            self._file.write(pcm)
            self._file.flush()
        return self._sink.take()

    def close(self) -> bytes:
        self._file.close()
        return self._sink.take()


class AudioEdge:
    """One request's output: gain, then resampling, then encoding.

    Not thread-safe; call it from one task (or one thread at a time).
    """

    def __init__(
        self,
        encoding: int,
        model_rate_hz: int,
        out_rate_hz: int,
        *,
        streaming: bool,
    ) -> None:
        """Prepare the chain.

        Args:
            encoding: Requested ``AudioEncoding`` (already validated).
            model_rate_hz: Rate of the PCM pushed in.
            out_rate_hz: Rate of the output; 0 means the model's.
            streaming: True to encode as audio arrives, False for one file at the end.
        """
        self.encoding = resolve_encoding(encoding)
        self.model_rate_hz = model_rate_hz
        self.sample_rate_hz = out_rate_hz or model_rate_hz
        self.num_samples = 0
        self._resampler = StreamResampler(model_rate_hz, self.sample_rate_hz)
        self._parts: list[Int16Array] = []
        self._encoder: _StreamEncoder | None = None
        if streaming:
            self._encoder = _stream_encoder(self.encoding, self.sample_rate_hz)

    def push(self, pcm: Int16Array, gain_db: float = 0.0) -> bytes:
        """Add model-rate PCM; returns the encoded bytes ready now (stream mode)."""
        return self._emit(self._resampler.process(apply_gain_db(pcm, gain_db)))

    def finish(self) -> bytes:
        """Flush the resampler and encoder; returns the last bytes (or the file)."""
        tail = self._emit(self._resampler.process(np.zeros(0, np.int16), last=True))
        if self._encoder is not None:
            return tail + self._encoder.close()
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.int16)
        self._parts = []  # one copy of the audio at a time: replies may be 64 MiB
        return encode_audio(audio, self.sample_rate_hz, self.encoding)

    def _emit(self, out: Int16Array) -> bytes:
        self.num_samples += int(out.size)
        if self._encoder is None:
            self._parts.append(out)
            return b""
        return self._encoder.write(out)


def _stream_encoder(encoding: int, sample_rate_hz: int) -> _StreamEncoder:
    if encoding == _Enc.AUDIO_ENCODING_WAV:
        return _WavStreamEncoder(sample_rate_hz)
    if encoding in _STREAM_FORMATS:
        return _SoundFileStreamEncoder(encoding, sample_rate_hz)
    return _RawEncoder()
