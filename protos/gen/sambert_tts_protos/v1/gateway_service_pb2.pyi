import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sambert_tts_protos.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SynthesizeRequest(_message.Message):
    __slots__ = ("text", "voice", "emotion", "speaker", "speed", "volume_gain_db", "encoding", "sample_rate_hz", "ssml", "no_cache", "pitch_semitones", "enable_timings", "lexicon", "request_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    VOLUME_GAIN_DB_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SSML_FIELD_NUMBER: _ClassVar[int]
    NO_CACHE_FIELD_NUMBER: _ClassVar[int]
    PITCH_SEMITONES_FIELD_NUMBER: _ClassVar[int]
    ENABLE_TIMINGS_FIELD_NUMBER: _ClassVar[int]
    LEXICON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    voice: str
    emotion: str
    speaker: str
    speed: float
    volume_gain_db: float
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hz: int
    ssml: bool
    no_cache: bool
    pitch_semitones: float
    enable_timings: bool
    lexicon: _containers.RepeatedCompositeFieldContainer[_audio_pb2.LexiconEntry]
    request_id: str
    def __init__(self, text: _Optional[str] = ..., voice: _Optional[str] = ..., emotion: _Optional[str] = ..., speaker: _Optional[str] = ..., speed: _Optional[float] = ..., volume_gain_db: _Optional[float] = ..., encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., ssml: _Optional[bool] = ..., no_cache: _Optional[bool] = ..., pitch_semitones: _Optional[float] = ..., enable_timings: _Optional[bool] = ..., lexicon: _Optional[_Iterable[_Union[_audio_pb2.LexiconEntry, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class SynthesizeResponse(_message.Message):
    __slots__ = ("audio", "encoding", "sample_rate_hz", "num_samples", "duration_ms", "sentences", "request_id")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    NUM_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hz: int
    num_samples: int
    duration_ms: int
    sentences: _containers.RepeatedCompositeFieldContainer[SentenceInfo]
    request_id: str
    def __init__(self, audio: _Optional[bytes] = ..., encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., num_samples: _Optional[int] = ..., duration_ms: _Optional[int] = ..., sentences: _Optional[_Iterable[_Union[SentenceInfo, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class StreamSynthesizeRequest(_message.Message):
    __slots__ = ("text", "voice", "emotion", "speaker", "speed", "volume_gain_db", "encoding", "sample_rate_hz", "ssml", "no_cache", "pitch_semitones", "enable_timings", "lexicon", "request_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    VOLUME_GAIN_DB_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    SSML_FIELD_NUMBER: _ClassVar[int]
    NO_CACHE_FIELD_NUMBER: _ClassVar[int]
    PITCH_SEMITONES_FIELD_NUMBER: _ClassVar[int]
    ENABLE_TIMINGS_FIELD_NUMBER: _ClassVar[int]
    LEXICON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    voice: str
    emotion: str
    speaker: str
    speed: float
    volume_gain_db: float
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hz: int
    ssml: bool
    no_cache: bool
    pitch_semitones: float
    enable_timings: bool
    lexicon: _containers.RepeatedCompositeFieldContainer[_audio_pb2.LexiconEntry]
    request_id: str
    def __init__(self, text: _Optional[str] = ..., voice: _Optional[str] = ..., emotion: _Optional[str] = ..., speaker: _Optional[str] = ..., speed: _Optional[float] = ..., volume_gain_db: _Optional[float] = ..., encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., ssml: _Optional[bool] = ..., no_cache: _Optional[bool] = ..., pitch_semitones: _Optional[float] = ..., enable_timings: _Optional[bool] = ..., lexicon: _Optional[_Iterable[_Union[_audio_pb2.LexiconEntry, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class StreamSynthesizeResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: StreamSynthesizeHeader
    chunk: SynthesisChunk
    def __init__(self, header: _Optional[_Union[StreamSynthesizeHeader, _Mapping]] = ..., chunk: _Optional[_Union[SynthesisChunk, _Mapping]] = ...) -> None: ...

class StreamingSynthesizeRequest(_message.Message):
    __slots__ = ("config", "text", "flush")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    config: StreamSynthesizeRequest
    text: str
    flush: bool
    def __init__(self, config: _Optional[_Union[StreamSynthesizeRequest, _Mapping]] = ..., text: _Optional[str] = ..., flush: _Optional[bool] = ...) -> None: ...

class StreamingSynthesizeResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: StreamSynthesizeHeader
    chunk: SynthesisChunk
    def __init__(self, header: _Optional[_Union[StreamSynthesizeHeader, _Mapping]] = ..., chunk: _Optional[_Union[SynthesisChunk, _Mapping]] = ...) -> None: ...

class ListVoicesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListVoicesResponse(_message.Message):
    __slots__ = ("voices", "default_voice", "max_text_chars")
    VOICES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VOICE_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[Voice]
    default_voice: str
    max_text_chars: int
    def __init__(self, voices: _Optional[_Iterable[_Union[Voice, _Mapping]]] = ..., default_voice: _Optional[str] = ..., max_text_chars: _Optional[int] = ...) -> None: ...

class GetCacheReportRequest(_message.Message):
    __slots__ = ("window_s", "voice", "max_top_sentences")
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOP_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    window_s: int
    voice: str
    max_top_sentences: int
    def __init__(self, window_s: _Optional[int] = ..., voice: _Optional[str] = ..., max_top_sentences: _Optional[int] = ...) -> None: ...

class GetCacheReportResponse(_message.Message):
    __slots__ = ("overall", "per_voice", "top_sentences", "counting_since", "window_s")
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    PER_VOICE_FIELD_NUMBER: _ClassVar[int]
    TOP_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    COUNTING_SINCE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    overall: CacheStats
    per_voice: _containers.RepeatedCompositeFieldContainer[CacheStats]
    top_sentences: _containers.RepeatedCompositeFieldContainer[RepeatedSentence]
    counting_since: _timestamp_pb2.Timestamp
    window_s: int
    def __init__(self, overall: _Optional[_Union[CacheStats, _Mapping]] = ..., per_voice: _Optional[_Iterable[_Union[CacheStats, _Mapping]]] = ..., top_sentences: _Optional[_Iterable[_Union[RepeatedSentence, _Mapping]]] = ..., counting_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_s: _Optional[int] = ...) -> None: ...

class StreamSynthesizeHeader(_message.Message):
    __slots__ = ("request_id", "encoding", "sample_rate_hz", "voice", "revisions", "num_sentences")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    NUM_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hz: int
    voice: str
    revisions: _audio_pb2.ModelRevisions
    num_sentences: int
    def __init__(self, request_id: _Optional[str] = ..., encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hz: _Optional[int] = ..., voice: _Optional[str] = ..., revisions: _Optional[_Union[_audio_pb2.ModelRevisions, _Mapping]] = ..., num_sentences: _Optional[int] = ...) -> None: ...

class SynthesisChunk(_message.Message):
    __slots__ = ("audio", "sentence_index", "last_in_sentence", "last_in_stream", "sentence", "final_header")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_IN_SENTENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_IN_STREAM_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_FIELD_NUMBER: _ClassVar[int]
    FINAL_HEADER_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    sentence_index: int
    last_in_sentence: bool
    last_in_stream: bool
    sentence: SentenceInfo
    final_header: bytes
    def __init__(self, audio: _Optional[bytes] = ..., sentence_index: _Optional[int] = ..., last_in_sentence: _Optional[bool] = ..., last_in_stream: _Optional[bool] = ..., sentence: _Optional[_Union[SentenceInfo, _Mapping]] = ..., final_header: _Optional[bytes] = ...) -> None: ...

class SentenceInfo(_message.Message):
    __slots__ = ("index", "normalized_text", "revisions", "cached", "duration_ms", "timings")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_TEXT_FIELD_NUMBER: _ClassVar[int]
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    index: int
    normalized_text: str
    revisions: _audio_pb2.ModelRevisions
    cached: bool
    duration_ms: int
    timings: SentenceTimings
    def __init__(self, index: _Optional[int] = ..., normalized_text: _Optional[str] = ..., revisions: _Optional[_Union[_audio_pb2.ModelRevisions, _Mapping]] = ..., cached: _Optional[bool] = ..., duration_ms: _Optional[int] = ..., timings: _Optional[_Union[SentenceTimings, _Mapping]] = ...) -> None: ...

class SentenceTimings(_message.Message):
    __slots__ = ("sentence", "words", "phones", "marks")
    SENTENCE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    MARKS_FIELD_NUMBER: _ClassVar[int]
    sentence: Timing
    words: _containers.RepeatedCompositeFieldContainer[Timing]
    phones: _containers.RepeatedCompositeFieldContainer[Timing]
    marks: _containers.RepeatedCompositeFieldContainer[Timing]
    def __init__(self, sentence: _Optional[_Union[Timing, _Mapping]] = ..., words: _Optional[_Iterable[_Union[Timing, _Mapping]]] = ..., phones: _Optional[_Iterable[_Union[Timing, _Mapping]]] = ..., marks: _Optional[_Iterable[_Union[Timing, _Mapping]]] = ...) -> None: ...

class Timing(_message.Message):
    __slots__ = ("text", "start_s", "end_s")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    text: str
    start_s: float
    end_s: float
    def __init__(self, text: _Optional[str] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ...) -> None: ...

class Voice(_message.Message):
    __slots__ = ("name", "emotions", "speakers", "sample_rate_hz", "revisions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMOTIONS_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    emotions: _containers.RepeatedScalarFieldContainer[str]
    speakers: _containers.RepeatedScalarFieldContainer[str]
    sample_rate_hz: int
    revisions: _audio_pb2.ModelRevisions
    def __init__(self, name: _Optional[str] = ..., emotions: _Optional[_Iterable[str]] = ..., speakers: _Optional[_Iterable[str]] = ..., sample_rate_hz: _Optional[int] = ..., revisions: _Optional[_Union[_audio_pb2.ModelRevisions, _Mapping]] = ...) -> None: ...

class CacheStats(_message.Message):
    __slots__ = ("voice", "requests", "hits", "misses", "errors", "hit_rate", "audio_from_cache_s", "compute_avoided_s", "money_saved", "currency_code", "compute_spent_s", "cost_per_1k", "cost_per_1k_without_cache")
    VOICE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FROM_CACHE_S_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_AVOIDED_S_FIELD_NUMBER: _ClassVar[int]
    MONEY_SAVED_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_SPENT_S_FIELD_NUMBER: _ClassVar[int]
    COST_PER_1K_FIELD_NUMBER: _ClassVar[int]
    COST_PER_1K_WITHOUT_CACHE_FIELD_NUMBER: _ClassVar[int]
    voice: str
    requests: int
    hits: int
    misses: int
    errors: int
    hit_rate: float
    audio_from_cache_s: float
    compute_avoided_s: float
    money_saved: float
    currency_code: str
    compute_spent_s: float
    cost_per_1k: float
    cost_per_1k_without_cache: float
    def __init__(self, voice: _Optional[str] = ..., requests: _Optional[int] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ..., errors: _Optional[int] = ..., hit_rate: _Optional[float] = ..., audio_from_cache_s: _Optional[float] = ..., compute_avoided_s: _Optional[float] = ..., money_saved: _Optional[float] = ..., currency_code: _Optional[str] = ..., compute_spent_s: _Optional[float] = ..., cost_per_1k: _Optional[float] = ..., cost_per_1k_without_cache: _Optional[float] = ...) -> None: ...

class RepeatedSentence(_message.Message):
    __slots__ = ("key_hash", "voice", "requests", "hits", "text_preview")
    KEY_HASH_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    TEXT_PREVIEW_FIELD_NUMBER: _ClassVar[int]
    key_hash: str
    voice: str
    requests: int
    hits: int
    text_preview: str
    def __init__(self, key_hash: _Optional[str] = ..., voice: _Optional[str] = ..., requests: _Optional[int] = ..., hits: _Optional[int] = ..., text_preview: _Optional[str] = ...) -> None: ...
