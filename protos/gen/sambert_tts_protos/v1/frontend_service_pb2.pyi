from sambert_tts_protos.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalyzeRequest(_message.Message):
    __slots__ = ("text", "voice", "emotion", "speaker", "ssml", "lexicon")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    SSML_FIELD_NUMBER: _ClassVar[int]
    LEXICON_FIELD_NUMBER: _ClassVar[int]
    text: str
    voice: str
    emotion: str
    speaker: str
    ssml: bool
    lexicon: _containers.RepeatedCompositeFieldContainer[_audio_pb2.LexiconEntry]
    def __init__(self, text: _Optional[str] = ..., voice: _Optional[str] = ..., emotion: _Optional[str] = ..., speaker: _Optional[str] = ..., ssml: _Optional[bool] = ..., lexicon: _Optional[_Iterable[_Union[_audio_pb2.LexiconEntry, _Mapping]]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("sentences", "voice", "revision")
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    sentences: _containers.RepeatedCompositeFieldContainer[AnalyzedSentence]
    voice: str
    revision: str
    def __init__(self, sentences: _Optional[_Iterable[_Union[AnalyzedSentence, _Mapping]]] = ..., voice: _Optional[str] = ..., revision: _Optional[str] = ...) -> None: ...

class FrontendServiceGetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FrontendServiceGetModelInfoResponse(_message.Message):
    __slots__ = ("voices", "revision", "max_text_chars")
    VOICES_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[_audio_pb2.VoiceInfo]
    revision: str
    max_text_chars: int
    def __init__(self, voices: _Optional[_Iterable[_Union[_audio_pb2.VoiceInfo, _Mapping]]] = ..., revision: _Optional[str] = ..., max_text_chars: _Optional[int] = ...) -> None: ...

class AnalyzedSentence(_message.Message):
    __slots__ = ("index", "normalized_text", "symbols", "emotion", "speaker", "extras", "words", "marks")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_TEXT_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    EXTRAS_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    MARKS_FIELD_NUMBER: _ClassVar[int]
    index: int
    normalized_text: str
    symbols: str
    emotion: str
    speaker: str
    extras: SentenceExtras
    words: _containers.RepeatedCompositeFieldContainer[_audio_pb2.WordSpan]
    marks: _containers.RepeatedCompositeFieldContainer[_audio_pb2.MarkPosition]
    def __init__(self, index: _Optional[int] = ..., normalized_text: _Optional[str] = ..., symbols: _Optional[str] = ..., emotion: _Optional[str] = ..., speaker: _Optional[str] = ..., extras: _Optional[_Union[SentenceExtras, _Mapping]] = ..., words: _Optional[_Iterable[_Union[_audio_pb2.WordSpan, _Mapping]]] = ..., marks: _Optional[_Iterable[_Union[_audio_pb2.MarkPosition, _Mapping]]] = ...) -> None: ...

class SentenceExtras(_message.Message):
    __slots__ = ("break_after_ms", "speed", "volume_gain_db", "pitch_semitones", "energy_shift")
    BREAK_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    VOLUME_GAIN_DB_FIELD_NUMBER: _ClassVar[int]
    PITCH_SEMITONES_FIELD_NUMBER: _ClassVar[int]
    ENERGY_SHIFT_FIELD_NUMBER: _ClassVar[int]
    break_after_ms: int
    speed: float
    volume_gain_db: float
    pitch_semitones: float
    energy_shift: float
    def __init__(self, break_after_ms: _Optional[int] = ..., speed: _Optional[float] = ..., volume_gain_db: _Optional[float] = ..., pitch_semitones: _Optional[float] = ..., energy_shift: _Optional[float] = ...) -> None: ...
