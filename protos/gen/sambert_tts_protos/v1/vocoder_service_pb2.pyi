from sambert_tts_protos.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamVocodeRequest(_message.Message):
    __slots__ = ("config", "mel")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    MEL_FIELD_NUMBER: _ClassVar[int]
    config: VocodeConfig
    mel: _audio_pb2.MelChunk
    def __init__(self, config: _Optional[_Union[VocodeConfig, _Mapping]] = ..., mel: _Optional[_Union[_audio_pb2.MelChunk, _Mapping]] = ...) -> None: ...

class StreamVocodeResponse(_message.Message):
    __slots__ = ("header", "audio")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    header: VocodeHeader
    audio: PcmChunk
    def __init__(self, header: _Optional[_Union[VocodeHeader, _Mapping]] = ..., audio: _Optional[_Union[PcmChunk, _Mapping]] = ...) -> None: ...

class VocoderServiceGetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VocoderServiceGetModelInfoResponse(_message.Message):
    __slots__ = ("voices", "default_voice")
    VOICES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VOICE_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[_audio_pb2.VoiceInfo]
    default_voice: str
    def __init__(self, voices: _Optional[_Iterable[_Union[_audio_pb2.VoiceInfo, _Mapping]]] = ..., default_voice: _Optional[str] = ...) -> None: ...

class VocodeConfig(_message.Message):
    __slots__ = ("mel_header", "pcm_format", "expected_revision")
    MEL_HEADER_FIELD_NUMBER: _ClassVar[int]
    PCM_FORMAT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    mel_header: _audio_pb2.MelHeader
    pcm_format: _audio_pb2.PcmFormat
    expected_revision: str
    def __init__(self, mel_header: _Optional[_Union[_audio_pb2.MelHeader, _Mapping]] = ..., pcm_format: _Optional[_Union[_audio_pb2.PcmFormat, str]] = ..., expected_revision: _Optional[str] = ...) -> None: ...

class VocodeHeader(_message.Message):
    __slots__ = ("voice", "revision", "sample_rate_hz", "pcm_format", "acoustic_revision")
    VOICE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    PCM_FORMAT_FIELD_NUMBER: _ClassVar[int]
    ACOUSTIC_REVISION_FIELD_NUMBER: _ClassVar[int]
    voice: str
    revision: str
    sample_rate_hz: int
    pcm_format: _audio_pb2.PcmFormat
    acoustic_revision: str
    def __init__(self, voice: _Optional[str] = ..., revision: _Optional[str] = ..., sample_rate_hz: _Optional[int] = ..., pcm_format: _Optional[_Union[_audio_pb2.PcmFormat, str]] = ..., acoustic_revision: _Optional[str] = ...) -> None: ...

class PcmChunk(_message.Message):
    __slots__ = ("pcm", "num_samples", "chunk_index", "start_sample", "last")
    PCM_FIELD_NUMBER: _ClassVar[int]
    NUM_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    START_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    pcm: bytes
    num_samples: int
    chunk_index: int
    start_sample: int
    last: bool
    def __init__(self, pcm: _Optional[bytes] = ..., num_samples: _Optional[int] = ..., chunk_index: _Optional[int] = ..., start_sample: _Optional[int] = ..., last: _Optional[bool] = ...) -> None: ...
