"""The gateway's audio edge: gain, resampling and the client's encoding, once.

Unary responses are one complete file (``encode_audio``). Streams are one file cut
into chunks, written as the audio arrives, each in its format's streamable form
(docs/architecture.md, "Audio containers"):

* PCM, MULAW and ALAW are headerless: the samples as they come.
* WAV is a 44-byte header whose RIFF and data sizes are 0xFFFFFFFF ("unknown", as
  ffmpeg writes to a pipe; readers read on to the end), then raw PCM.
* FLAC is encoded incrementally by libsndfile into a forward-only sink: whatever
  the encoder has written goes out with the next chunk. Its STREAMINFO says total
  samples 0 ("unknown", which FLAC allows and ffmpeg and flac read; libsndfile
  will not).
* For WAV and FLAC, :attr:`AudioEdge.final_header` holds, once the stream is
  finished, the file's opening bytes with the true sizes (the WAV header; FLAC's
  ``fLaC`` and STREAMINFO with the sample count and MD5, as libFLAC rewrites them
  at close). Written over the start of the saved stream they make it the very file
  a unary call returns. The gateway sends them on the stream's last chunk.
* OGG_OPUS (libsndfile) is complete as it goes: every Ogg page carries its
  position.
* MP3 is LAME through ``lameenc`` at a constant bitrate, with no Xing/Info frame:
  every frame of a rate has the same size, so readers that estimate the length
  from the byte count (libsndfile/mpg123, ffprobe) get it right, and a reader may
  stop at any frame. Decoders return the audio plus LAME's fixed delay
  (:data:`~tts_common.audio.MP3_CODEC_DELAY_SAMPLES`) and the last frame's padding;
  nothing is cut. (Unary MP3 is libsndfile's file, whose Info frame lets gapless
  decoders trim that delay.)

Encoders buffer a little (a FLAC block, an MP3 frame, an Ogg page of about a second
of Opus), which is the latency these encodings add.
"""

from __future__ import annotations

import struct
from typing import Any, Protocol, cast

import lameenc
import numpy as np
import soundfile as sf

from sambert_tts_protos.v1 import audio_pb2
from tts_common.audio import (
    G711_ENCODINGS,
    Int16Array,
    StreamResampler,
    apply_gain_db,
    encode_audio,
    mp3_bitrate_kbps,
    pcm16_to_bytes,
)

__all__ = ["AudioEdge", "resolve_encoding", "wav_header"]

_Enc = audio_pb2.AudioEncoding
_UNKNOWN_SIZE = 0xFFFFFFFF
_WAV_HEADER_BYTES = 44
_FLAC_HEADER_BYTES = 42
"""``fLaC``, a metadata block header and the 34-byte STREAMINFO."""
_MP3_QUALITY = 3
"""LAME's algorithm quality, 0 (best, slowest) to 9: 3 is its "near best" setting,
a few hundred times real time for one voice on one core."""
# encoding -> (libsndfile container, subtype, bytes of the file's head to keep)
_SOUNDFILE_STREAMS: dict[int, tuple[str, str, int]] = {
    _Enc.AUDIO_ENCODING_FLAC: ("FLAC", "PCM_16", _FLAC_HEADER_BYTES),
    _Enc.AUDIO_ENCODING_OGG_OPUS: ("OGG", "OPUS", 0),
}


def resolve_encoding(encoding: int) -> audio_pb2.AudioEncoding:
    """The encoding actually produced: unspecified means raw PCM (see the proto)."""
    if encoding == _Enc.AUDIO_ENCODING_UNSPECIFIED:
        return _Enc.AUDIO_ENCODING_PCM_S16LE
    return cast("audio_pb2.AudioEncoding", encoding)


class _StreamEncoder(Protocol):
    def write(self, pcm: Int16Array) -> bytes: ...

    def close(self) -> bytes: ...

    def final_header(self) -> bytes: ...


class _RawEncoder:
    """Headerless audio, encoded chunk by chunk: PCM s16le, or G.711 (each sample
    on its own, so chunks need no state)."""

    def __init__(self, encoding: int, sample_rate_hz: int) -> None:
        self._encoding, self._rate = encoding, sample_rate_hz

    def write(self, pcm: Int16Array) -> bytes:
        if self._encoding in G711_ENCODINGS:
            return encode_audio(pcm, self._rate, self._encoding)
        return pcm16_to_bytes(pcm)

    def close(self) -> bytes:
        return b""

    def final_header(self) -> bytes:
        return b""


class _WavStreamEncoder:
    """A WAV header with unknown sizes, then raw PCM; the true header at the end."""

    def __init__(self, sample_rate_hz: int) -> None:
        self._rate = sample_rate_hz
        self._header: bytes | None = wav_header(sample_rate_hz, None)
        self._data_bytes = 0
        self._closed = False

    def write(self, pcm: Int16Array) -> bytes:
        header, self._header = self._header or b"", None
        data = pcm16_to_bytes(pcm)
        self._data_bytes += len(data)
        return header + data

    def close(self) -> bytes:
        self._closed = True
        header, self._header = self._header or b"", None
        return header

    def final_header(self) -> bytes:
        return wav_header(self._rate, self._data_bytes) if self._closed else b""


def wav_header(sample_rate_hz: int, data_bytes: int | None) -> bytes:
    """A 44-byte mono 16-bit PCM WAV header; ``None`` sizes say "unknown".

    With a size it is the header libsndfile writes for the same audio, so a
    streamed WAV with it written over its start equals the unary file.
    """
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate_hz, sample_rate_hz * 2, 2, 16)
    if data_bytes is None:
        riff_size = data_size = _UNKNOWN_SIZE
    else:
        data_size = data_bytes
        riff_size = _WAV_HEADER_BYTES - 8 + data_bytes
    header = (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_size)
    )
    assert len(header) == _WAV_HEADER_BYTES
    return header


class _ForwardSink:
    """A file-like target that hands its bytes on and forgets them.

    Writes behind what was already handed on (an encoder finalizing its header at
    close) cannot reach the client's copy; those that fall in the file's first
    ``head_size`` bytes are kept in :meth:`head`, the file's opening bytes as the
    encoder left them.
    """

    def __init__(self, head_size: int = 0) -> None:
        self._base = 0  # file offset of _pending[0]
        self._pending = bytearray()
        self._pos = 0
        self._end = 0
        self._head_size = head_size
        self._head = bytearray()

    def write(self, data: bytes) -> int:
        size = len(data)
        start, payload = self._pos, bytes(data)
        if start < self._head_size:
            stop = min(start + size, self._head_size)
            if len(self._head) < stop:
                self._head.extend(b"\0" * (stop - len(self._head)))
            self._head[start:stop] = payload[: stop - start]
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

    def head(self) -> bytes:
        """The file's first ``head_size`` bytes as last written."""
        return bytes(self._head)


class _SoundFileStreamEncoder:
    """FLAC / Ogg Opus through libsndfile, flushed after every write."""

    def __init__(self, encoding: int, sample_rate_hz: int) -> None:
        container, subtype, head_size = _SOUNDFILE_STREAMS[encoding]
        self._sink = _ForwardSink(head_size)
        self._closed = False
        self._file = sf.SoundFile(
            self._sink,
            "w",
            samplerate=sample_rate_hz,
            channels=1,
            format=container,
            subtype=subtype,
        )

    def write(self, pcm: Int16Array) -> bytes:
        if pcm.size:
            self._file.write(pcm)
            self._file.flush()
        return self._sink.take()

    def close(self) -> bytes:
        self._file.close()  # libFLAC rewrites STREAMINFO here, into the head
        self._closed = True
        return self._sink.take()

    def final_header(self) -> bytes:
        return self._sink.head() if self._closed else b""


class _Mp3StreamEncoder:
    """Constant-bitrate MP3 through LAME (``lameenc``): whole frames as they fill."""

    def __init__(self, sample_rate_hz: int) -> None:
        self._lame: Any = lameenc.Encoder()
        self._lame.set_in_sample_rate(sample_rate_hz)
        self._lame.set_out_sample_rate(sample_rate_hz)  # LAME would pick its own
        self._lame.set_channels(1)
        self._lame.set_bit_rate(mp3_bitrate_kbps(sample_rate_hz))
        self._lame.set_quality(_MP3_QUALITY)

    def write(self, pcm: Int16Array) -> bytes:
        if not pcm.size:
            return b""
        return bytes(self._lame.encode(pcm16_to_bytes(pcm)))

    def close(self) -> bytes:
        return bytes(self._lame.flush())  # the last frames, padded with silence

    def final_header(self) -> bytes:
        return b""


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

    @property
    def final_header(self) -> bytes:
        """After :meth:`finish` of a WAV or FLAC stream, the file's opening bytes
        with the true sizes, to be written over the stream's start; else empty."""
        return self._encoder.final_header() if self._encoder is not None else b""

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
    if encoding == _Enc.AUDIO_ENCODING_MP3:
        return _Mp3StreamEncoder(sample_rate_hz)
    if encoding in _SOUNDFILE_STREAMS:
        return _SoundFileStreamEncoder(encoding, sample_rate_hz)
    return _RawEncoder(encoding, sample_rate_hz)
