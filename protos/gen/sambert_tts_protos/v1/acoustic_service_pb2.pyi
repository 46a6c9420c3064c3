from sambert_tts_protos.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StreamMelRequest(_message.Message):
    __slots__ = ("symbols", "voice", "emotion", "speaker", "speed", "chunk_steps", "pitch_semitones", "energy_shift")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    CHUNK_STEPS_FIELD_NUMBER: _ClassVar[int]
    PITCH_SEMITONES_FIELD_NUMBER: _ClassVar[int]
    ENERGY_SHIFT_FIELD_NUMBER: _ClassVar[int]
    symbols: str
    voice: str
    emotion: str
    speaker: str
    speed: float
    chunk_steps: int
    pitch_semitones: float
    energy_shift: float
    def __init__(self, symbols: _Optional[str] = ..., voice: _Optional[str] = ..., emotion: _Optional[str] = ..., speaker: _Optional[str] = ..., speed: _Optional[float] = ..., chunk_steps: _Optional[int] = ..., pitch_semitones: _Optional[float] = ..., energy_shift: _Optional[float] = ...) -> None: ...

class StreamMelResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: _audio_pb2.MelHeader
    chunk: _audio_pb2.MelChunk
    def __init__(self, header: _Optional[_Union[_audio_pb2.MelHeader, _Mapping]] = ..., chunk: _Optional[_Union[_audio_pb2.MelChunk, _Mapping]] = ...) -> None: ...

class AcousticServiceGetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AcousticServiceGetModelInfoResponse(_message.Message):
    __slots__ = ("voices", "default_voice")
    VOICES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VOICE_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[_audio_pb2.VoiceInfo]
    default_voice: str
    def __init__(self, voices: _Optional[_Iterable[_Union[_audio_pb2.VoiceInfo, _Mapping]]] = ..., default_voice: _Optional[str] = ...) -> None: ...
