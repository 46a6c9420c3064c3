"""Every synthesis request field reaches a cache key or is declared not to change the
cached audio; the options object, the typed keys and the one speed rule."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2
from google.protobuf.descriptor import Descriptor

from gateway.cache import AnalysisKey, SentenceKey
from gateway.options import FIELD_TO_KEY, FIELDS_OUTSIDE_CACHE_KEYS, SynthesisOptions
from gateway.voices import VoiceCatalog, VoiceEntry
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import frontend_service_pb2 as fe_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.errors import InvalidInput
from tts_common.speed import SPEED_RANGE, combined_speed

if TYPE_CHECKING:
    # types-protobuf types a generated message's DESCRIPTOR as either descriptor class
    # (pure-Python or upb backend); the pool's lookups give the pure-Python one.
    from google._upb._message import Descriptor as UpbDescriptor

    AnyDescriptor = Descriptor | UpbDescriptor

REQUESTS = (gw.SynthesizeRequest, gw.StreamSynthesizeRequest)
_ids = [r.DESCRIPTOR.name for r in REQUESTS]


def _fields(descriptor: AnyDescriptor) -> dict[str, tuple[int, int, bool, str]]:
    """Name -> (number, type, repeated, enum name) of every field of a message."""
    enum = {f.name: f.enum_type.full_name for f in descriptor.fields if f.enum_type}
    return {
        f.name: (f.number, f.type, f.is_repeated, enum.get(f.name, ""))
        for f in descriptor.fields
    }


def unaccounted(descriptor: AnyDescriptor) -> set[str]:
    """Fields of ``descriptor`` neither in FIELD_TO_KEY nor declared outside."""
    declared = FIELD_TO_KEY.keys() | FIELDS_OUTSIDE_CACHE_KEYS.keys()
    return set(_fields(descriptor)) - declared


def test_both_request_messages_carry_the_same_fields() -> None:
    """Same names, numbers and types: one options builder serves both."""
    unary, stream = (_fields(r.DESCRIPTOR) for r in REQUESTS)
    assert unary == stream


@pytest.mark.parametrize("request_type", REQUESTS, ids=_ids)
def test_every_request_field_is_in_a_key_or_declared_outside(request_type) -> None:
    """A new request field fails here until it is mapped into a key or declared
    as not changing the cached audio (gateway/options.py)."""
    missing = unaccounted(request_type.DESCRIPTOR)
    assert not missing, (
        f"{request_type.DESCRIPTOR.name} fields {sorted(missing)} are in no cache key: "
        "add them to gateway.options.FIELD_TO_KEY (and the key) or, if they do not "
        "change the cached audio, to FIELDS_OUTSIDE_CACHE_KEYS with the reason"
    )


def test_a_new_field_is_caught() -> None:
    """The check itself works: a request with one more field reports that field
    (the protos are copied into a pool of their own, the real ones stay as they are)."""
    proto = _file_proto(gw.DESCRIPTOR)
    message = next(m for m in proto.message_type if m.name == "SynthesizeRequest")
    message.field.add(
        name="pitch", number=99, type=descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT
    )
    pool = descriptor_pool.DescriptorPool()
    for dependency in (timestamp_pb2.DESCRIPTOR, audio_pb2.DESCRIPTOR):
        pool.Add(_file_proto(dependency))
    pool.Add(proto)
    probe = pool.FindMessageTypeByName(gw.SynthesizeRequest.DESCRIPTOR.full_name)
    assert unaccounted(probe) == {"pitch"}


def _file_proto(file: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    return proto


def test_declarations_are_disjoint_and_name_real_fields() -> None:
    """No field is both in a key and outside; no stale names; each key field exists."""
    assert not FIELD_TO_KEY.keys() & FIELDS_OUTSIDE_CACHE_KEYS.keys()
    declared = FIELD_TO_KEY.keys() | FIELDS_OUTSIDE_CACHE_KEYS.keys()
    assert declared <= set(_fields(gw.SynthesizeRequest.DESCRIPTOR))
    for request_field, (key_type, key_field) in FIELD_TO_KEY.items():
        names = {f.name for f in dataclasses.fields(key_type)}
        assert key_field in names, f"{request_field} -> {key_type.__name__}.{key_field}"
    assert all(FIELDS_OUTSIDE_CACHE_KEYS.values()), "give each field its reason"


# --- the declarations hold: changing a field changes exactly the keys it names ---

_V1 = VoiceEntry("v1", ("happy", "sad"), ("F7", "M1"), 16000, "fe", "am", "voc")
CATALOG = VoiceCatalog({"v1": _V1, "v2": dataclasses.replace(_V1, name="v2")}, "v1", 0)
BASE: dict[str, Any] = {
    "text": "你好。", "voice": "v1", "emotion": "happy", "speaker": "F7", "speed": 1.0,
}  # fmt: skip
CHANGED: dict[str, Any] = {
    "text": "再见。", "ssml": True, "voice": "v2", "emotion": "sad", "speaker": "M1",
    "speed": 1.5, "volume_gain_db": -6.0,
    "encoding": audio_pb2.AUDIO_ENCODING_FLAC, "sample_rate_hz": 24000,
    "no_cache": True, "request_id": "other-id", "pitch_semitones": 2.0,
    "enable_timings": True,
    "lexicon": [audio_pb2.LexiconEntry(word="你好", pronunciation="ni3 hao3")],
}  # fmt: skip
"""A different, valid value for every request field."""
SENTENCE = fe_pb2.AnalyzedSentence(index=0, symbols="sym", emotion="happy")


def _digests(request_type: Any, **fields: Any) -> dict[type, str]:
    request = request_type(**{**BASE, **fields})
    options = SynthesisOptions.from_request(request, CATALOG, 100, request.request_id)
    return {
        AnalysisKey: options.analysis_key().digest(),
        SentenceKey: options.sentence_key(SENTENCE).digest(),
    }


@pytest.mark.parametrize("request_type", REQUESTS, ids=_ids)
def test_changing_a_field_changes_exactly_the_declared_keys(request_type) -> None:
    """A mapped field changes its key's digest; one declared outside changes none."""
    base = _digests(request_type)
    for name in _fields(request_type.DESCRIPTOR):
        assert name in CHANGED, f"give {name} a changed value in CHANGED"
        changed = _digests(request_type, **{name: CHANGED[name]})
        if name in FIELD_TO_KEY:
            key_type = FIELD_TO_KEY[name][0]
            assert changed[key_type] != base[key_type], name
        else:
            assert changed == base, name


def test_options_resolve_defaults() -> None:
    """0 speed is 1.0, 0 rate is the voice's, unspecified encoding is PCM."""
    request = gw.StreamSynthesizeRequest(text="你好。", no_cache=True)
    options = SynthesisOptions.from_request(request, CATALOG, 100, "id-1")
    assert (options.voice, options.speed, options.sample_rate_hz) == (_V1, 1.0, 16000)
    assert options.encoding == audio_pb2.AUDIO_ENCODING_PCM_S16LE
    assert (options.use_cache, options.request_id) == (False, "id-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.speed = 2.0  # type: ignore[misc]  # the frozen assignment is the test


# --- typed keys keep the digests existing cache entries are stored under ---------


def test_analysis_key_digest_is_the_one_entries_are_stored_under() -> None:
    """Digests pinned at schema 3 (entries carry symbol durations; older ones miss):
    a change here invalidates every stored entry, so it must come with a bump of
    ``CACHE_SCHEMA_VERSION``."""
    key = AnalysisKey("你好。世界", True, "zhitian_emo", "happy", "F7", "fe-rev-1")
    assert key.digest() == (
        "26f0af6cf25d6ca15333dc92bbb20323833a4f75b1303eea98af95565bc5e4b8"
    )
    key = AnalysisKey("text", False, "v", "", "", "fe-1")
    assert key.digest() == (
        "b5a577357137ab2300dcc4d4c633956aea257aef4abecb92edb41aae92223302"
    )
    sentence = SentenceKey("v", "a" * 64, "b" * 64, "sym", "happy", "F7", 1.0, 16000)
    assert sentence.digest() == (
        "1efd34e275ead611c7bc136ac30bea3b9685611ced501b8ff6fc4bebeab30906"
    )


# --- the one combined-speed rule ---------------------------------------------------


def test_combined_speed_is_refused_outside_the_range_never_clamped() -> None:
    """The product must stay in range; the message names both values and the range."""
    low, high = SPEED_RANGE
    assert combined_speed(1.0, 0.0) == 1.0  # rate not set
    assert combined_speed(1.5, 1.25) == 1.875
    assert combined_speed(high, 1.0) == high and combined_speed(low, 1.0) == low
    with pytest.raises(InvalidInput) as err:
        combined_speed(2.0, 1.5, sentence=0)
    assert str(err.value) == (
        "speed 2 times SSML <prosody rate> 1.5 in sentence 1 is 3, outside "
        "0.5 to 2.0; lower the speed or the rate"
    )
    with pytest.raises(InvalidInput, match=r"outside 0\.5 to 2\.0"):
        combined_speed(0.5, 0.75)


def test_combined_speed_checks_the_value_the_acoustic_stage_receives() -> None:
    """Proto floats are float32: 1.6 x 1.25 is 2.0 on the wire, so it passes."""
    speed = gw.SynthesizeRequest(speed=1.6).speed  # 1.600000023841858
    assert speed * 1.25 > 2.0
    assert combined_speed(speed, 1.25) == speed * 1.25
