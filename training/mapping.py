"""Map our frontend's KAN-TTS symbols to the teacher's Baker phones, and durations back.

Both inventories split a syllable into an initial and a final. We drive the teacher
with *our* frontend's pinyin (tones after sandhi, our polyphone choices) instead of
its own pypinyin frontend, so the audio says exactly what our symbols say and the
per-phone mapping is 1:1 by construction:

===========================  ==========================================
ours (KAN-TTS)               teacher (Baker, TensorFlowTTS)
===========================  ==========================================
initial ``b_c`` / ``ga``     ``b`` / ``^`` (every zero initial is ``^``)
final ``ao_c$tone3``         ``ao3`` (final spelled the Baker way)
erhua final ``anr_c``        ``an<t>`` + ``er5`` (Baker writes 儿 apart)
no token (inside a word)     ``#0`` after every syllable
``#1`` ``#2`` ``#3``         ``#1`` ``#2`` ``#3``
final ``#4``                 ``sil`` (+ the model's ``eos``)
===========================  ==========================================

The teacher gives every token a duration, breaks and ``#0`` included, and its pause
tokens mostly hold the *tail of the previous vowel* (measured: ``#0`` and ``#1``
segments are voiced). So a pause token's frames are split by loudness: leading
voiced frames go to the previous phone, trailing voiced frames (the next onset) to
the next phone, and only the silent middle stays with our break token. A break with
no silence gets 0 frames, as in KAN-TTS data where breaks last only as long as a
real pause. The teacher's leading ``sil`` is cut from the audio (our symbols have no
leading silence token); its voiced tail, if any, goes to the first phone.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "TeacherPlan",
    "assign_durations",
    "pinyin_to_baker",
    "plan_teacher",
    "to_mel_frames",
]

_INITIALS = (
    "zh",
    "ch",
    "sh",
    "b",
    "p",
    "m",
    "f",
    "d",
    "t",
    "n",
    "l",
    "g",
    "k",
    "h",
    "j",
    "q",
    "x",
    "r",
    "z",
    "c",
    "s",
)
_ZERO = {  # zero-initial spellings -> Baker final
    "yi": "i",
    "ya": "ia",
    "ye": "ie",
    "yao": "iao",
    "you": "iou",
    "yan": "ian",
    "yin": "in",
    "yang": "iang",
    "ying": "ing",
    "yong": "iong",
    "yu": "v",
    "yue": "ve",
    "yuan": "van",
    "yun": "vn",
    "yo": "io",
    "wu": "u",
    "wa": "ua",
    "wo": "uo",
    "wai": "uai",
    "wei": "uei",
    "wan": "uan",
    "wen": "uen",
    "wang": "uang",
    "weng": "ueng",
    "ng": "en",
    "n": "en",
}
_AFTER_INITIAL = {"iu": "iou", "ui": "uei", "un": "uen"}
BREAKS = ("#1", "#2", "#3", "#4")


def pinyin_to_baker(syllable: str) -> tuple[str, str]:
    """``'zhuang4'`` -> ``('zh', 'uang4')``; zero initials give ``'^'``.

    Raises ValueError for something that is not tone-numbered Mandarin pinyin.
    """
    if not syllable or syllable[-1] not in "12345":
        raise ValueError(f"not a tone-numbered syllable: {syllable!r}")
    base, tone = syllable[:-1].replace("ü", "v"), syllable[-1]
    if base in _ZERO:
        return "^", _ZERO[base] + tone
    for ini in _INITIALS:
        if base.startswith(ini) and len(base) > len(ini):
            fin = base[len(ini) :]
            if ini in "jqx" and fin.startswith("u"):
                fin = "v" + fin[1:]
            elif fin == "i" and ini in ("z", "c", "s"):
                fin = "ii"
            elif fin == "i" and ini in ("zh", "ch", "sh", "r"):
                fin = "iii"
            fin = _AFTER_INITIAL.get(fin, fin)
            return ini, fin + tone
    if base[0] in "aeo":
        return "^", base + tone
    raise ValueError(f"cannot split pinyin {syllable!r}")


@dataclass(frozen=True)
class TeacherPlan:
    """The teacher's input for one sentence and where each teacher token's frames go."""

    phones: list[str]
    """Baker tokens, ``sil`` first and last (the model's ``eos`` not included)."""
    owner: list[int]
    """Per teacher token: index of our token it belongs to (-1 for the leading sil)."""
    is_pause: list[bool]
    """Per teacher token: a pause token (``sil``, ``#0``-``#3``) whose frames are split."""
    n_ours: int
    """Number of our tokens."""


def _phone(token: str) -> tuple[str, str]:
    fields = token.strip("{}").split("$")
    return fields[0], fields[1]


def plan_teacher(symbols: str, pinyin: list[str]) -> TeacherPlan:
    """Teacher tokens for our symbol string and its pinyin (our frontend's outputs).

    Raises ValueError when the syllables of ``symbols`` and ``pinyin`` disagree.
    """
    tokens = symbols.split()
    phones, owner, pause = ["sil"], [-1], [True]
    syl = 0
    i = 0
    while i < len(tokens):
        name, _ = _phone(tokens[i])
        if name in BREAKS:
            last = i == len(tokens) - 1
            if last and name != "#4":
                raise ValueError("symbols must end with #4")
            if phones[-1] == "#0":  # a break replaces the in-word #0 we put there
                phones.pop(), owner.pop(), pause.pop()
            phones.append("sil" if last else ("#3" if name == "#4" else name))
            owner.append(i)
            pause.append(True)
            i += 1
            continue
        if i + 1 >= len(tokens) or _phone(tokens[i + 1])[0] in BREAKS:
            raise ValueError(f"token {i} {name!r}: expected initial + final")
        final = _phone(tokens[i + 1])[0]
        if syl >= len(pinyin):
            raise ValueError("more syllables in symbols than in pinyin")
        ini, fin = pinyin_to_baker(pinyin[syl])
        syl += 1
        phones += [ini, fin]
        owner += [i, i + 1]
        pause += [False, False]
        # Erhua: our final carries the r ("anr_c"), the pinyin lists er5 apart.
        if final.endswith("r_c") and final != "er_c":
            if syl >= len(pinyin) or pinyin[syl] != "er5":
                raise ValueError(f"erhua final {final!r} without er5 in pinyin")
            syl += 1
            phones.append("er5")
            owner.append(i + 1)
            pause.append(False)
        phones.append("#0")
        owner.append(i + 1)
        pause.append(True)
        i += 2
    if syl != len(pinyin):
        raise ValueError(f"{len(pinyin) - syl} pinyin syllables left over")
    if phones[-1] != "sil":
        raise ValueError("symbols must end with #4")
    return TeacherPlan(phones, owner, pause, len(tokens))


def assign_durations(
    plan: TeacherPlan,
    teacher_dur: list[int],
    voiced: list[bool],
) -> tuple[list[int], int, int]:
    """Teacher-frame durations per our token, and the kept audio span.

    Args:
        plan: from :func:`plan_teacher`.
        teacher_dur: frames per teacher token (len(plan.phones) + 1: the last is eos,
            which belongs with the final ``sil``).
        voiced: per teacher frame, whether it is louder than silence.

    Returns:
        (durations of our tokens, first kept teacher frame, end teacher frame).
    """
    n_t = len(plan.phones)
    durs = [*list(teacher_dur[: n_t - 1]), int(sum(teacher_dur[n_t - 1 :]))]
    ours = [0] * plan.n_ours
    start = pos = 0
    for k, (d, own) in enumerate(zip(durs, plan.owner, strict=True)):
        seg = voiced[pos : pos + d]
        if not plan.is_pause[k]:
            ours[own] += d
            pos += d
            continue
        head = _run(seg)
        tail = _run(seg[::-1]) if head < d else 0
        silent = d - head - tail
        prev_phone, next_phone = _prev_phone(plan, k), _next_phone(plan, k)
        if k == 0:  # leading sil: cut its silence from the audio
            start = pos + head + silent
            head, silent = 0, 0
            tail = d - (start - pos)
        elif plan.phones[k] == "#0":
            # No token of ours here: a silence inside a word is a stop closure,
            # which belongs to the next initial.
            tail += silent
            silent = 0
        if next_phone < 0:  # after the last phone: all of it is the final break's
            silent += tail
            tail = 0
        ours[own] += silent if own >= 0 else 0
        if head:
            ours[prev_phone] += head
        if tail:
            ours[next_phone] += tail
        pos += d
    return ours, start, pos


def _run(flags: list[bool]) -> int:
    """Length of the leading run of True."""
    n = 0
    for f in flags:
        if not f:
            break
        n += 1
    return n


def _prev_phone(plan: TeacherPlan, k: int) -> int:
    for j in range(k - 1, -1, -1):
        if not plan.is_pause[j]:
            return plan.owner[j]
    return -1


def _next_phone(plan: TeacherPlan, k: int) -> int:
    for j in range(k + 1, len(plan.phones)):
        if not plan.is_pause[j]:
            return plan.owner[j]
    return -1


def to_mel_frames(durations: list[int], n_frames: int) -> list[int]:
    """Rescale integer durations so they sum exactly to ``n_frames``.

    Rounds the cumulative boundaries (not each duration), so rounding errors never
    accumulate: boundary k is ``round(cum_k * n_frames / total)``.
    """
    total = sum(durations)
    if total <= 0:
        raise ValueError("durations sum to zero")
    out, cum, prev = [], 0, 0
    for d in durations:
        cum += d
        b = (cum * n_frames * 2 + total) // (2 * total)  # round half up, exact ints
        out.append(b - prev)
        prev = b
    return out
