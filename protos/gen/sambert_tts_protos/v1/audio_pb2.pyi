from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudioEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_ENCODING_UNSPECIFIED: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_PCM_S16LE: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_WAV: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_FLAC: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_OGG_OPUS: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_MP3: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_MULAW: _ClassVar[AudioEncoding]
    AUDIO_ENCODING_ALAW: _ClassVar[AudioEncoding]

class PcmFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PCM_FORMAT_UNSPECIFIED: _ClassVar[PcmFormat]
    PCM_FORMAT_S16LE: _ClassVar[PcmFormat]
    PCM_FORMAT_F32LE: _ClassVar[PcmFormat]
AUDIO_ENCODING_UNSPECIFIED: AudioEncoding
AUDIO_ENCODING_PCM_S16LE: AudioEncoding
AUDIO_ENCODING_WAV: AudioEncoding
AUDIO_ENCODING_FLAC: AudioEncoding
AUDIO_ENCODING_OGG_OPUS: AudioEncoding
AUDIO_ENCODING_MP3: AudioEncoding
AUDIO_ENCODING_MULAW: AudioEncoding
AUDIO_ENCODING_ALAW: AudioEncoding
PCM_FORMAT_UNSPECIFIED: PcmFormat
PCM_FORMAT_S16LE: PcmFormat
PCM_FORMAT_F32LE: PcmFormat

class MelSpectrogram(_message.Message):
    __slots__ = ("data", "num_frames", "num_mels")
    DATA_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    NUM_MELS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    num_frames: int
    num_mels: int
    def __init__(self, data: _Optional[bytes] = ..., num_frames: _Optional[int] = ..., num_mels: _Optional[int] = ...) -> None: ...

class MelChunk(_message.Message):
    __slots__ = ("mel", "chunk_index", "start_frame", "last")
    MEL_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    START_FRAME_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    mel: MelSpectrogram
    chunk_index: int
    start_frame: int
    last: bool
    def __init__(self, mel: _Optional[_Union[MelSpectrogram, _Mapping]] = ..., chunk_index: _Optional[int] = ..., start_frame: _Optional[int] = ..., last: _Optional[bool] = ...) -> None: ...

class MelHeader(_message.Message):
    __slots__ = ("voice", "revision", "num_mels", "hop_length", "sample_rate_hz", "num_frames", "symbol_frames")
    VOICE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    NUM_MELS_FIELD_NUMBER: _ClassVar[int]
    HOP_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FRAMES_FIELD_NUMBER: _ClassVar[int]
    voice: str
    revision: str
    num_mels: int
    hop_length: int
    sample_rate_hz: int
    num_frames: int
    symbol_frames: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, voice: _Optional[str] = ..., revision: _Optional[str] = ..., num_mels: _Optional[int] = ..., hop_length: _Optional[int] = ..., sample_rate_hz: _Optional[int] = ..., num_frames: _Optional[int] = ..., symbol_frames: _Optional[_Iterable[int]] = ...) -> None: ...

class VoiceInfo(_message.Message):
    __slots__ = ("name", "revision", "emotions", "speakers", "sample_rate_hz", "num_mels", "hop_length")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    EMOTIONS_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    NUM_MELS_FIELD_NUMBER: _ClassVar[int]
    HOP_LENGTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: str
    emotions: _containers.RepeatedScalarFieldContainer[str]
    speakers: _containers.RepeatedScalarFieldContainer[str]
    sample_rate_hz: int
    num_mels: int
    hop_length: int
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[str] = ..., emotions: _Optional[_Iterable[str]] = ..., speakers: _Optional[_Iterable[str]] = ..., sample_rate_hz: _Optional[int] = ..., num_mels: _Optional[int] = ..., hop_length: _Optional[int] = ...) -> None: ...

class ModelRevisions(_message.Message):
    __slots__ = ("frontend", "acoustic", "vocoder")
    FRONTEND_FIELD_NUMBER: _ClassVar[int]
    ACOUSTIC_FIELD_NUMBER: _ClassVar[int]
    VOCODER_FIELD_NUMBER: _ClassVar[int]
    frontend: str
    acoustic: str
    vocoder: str
    def __init__(self, frontend: _Optional[str] = ..., acoustic: _Optional[str] = ..., vocoder: _Optional[str] = ...) -> None: ...

class LexiconEntry(_message.Message):
    __slots__ = ("word", "pronunciation")
    WORD_FIELD_NUMBER: _ClassVar[int]
    PRONUNCIATION_FIELD_NUMBER: _ClassVar[int]
    word: str
    pronunciation: str
    def __init__(self, word: _Optional[str] = ..., pronunciation: _Optional[str] = ...) -> None: ...

class WordSpan(_message.Message):
    __slots__ = ("text", "first_symbol", "num_symbols")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NUM_SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    text: str
    first_symbol: int
    num_symbols: int
    def __init__(self, text: _Optional[str] = ..., first_symbol: _Optional[int] = ..., num_symbols: _Optional[int] = ...) -> None: ...

class MarkPosition(_message.Message):
    __slots__ = ("name", "symbol_index")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_INDEX_FIELD_NUMBER: _ClassVar[int]
    name: str
    symbol_index: int
    def __init__(self, name: _Optional[str] = ..., symbol_index: _Optional[int] = ...) -> None: ...
