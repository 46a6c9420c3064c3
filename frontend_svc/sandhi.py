"""Tone sandhi on segmented words: 不, 一, neutral tones and third-tone sandhi.

The rule set follows standard Mandarin descriptions (and pypinyin's ``ToneSandhiMixin``
and PaddleSpeech's ``ToneSandhi`` where they agree): 不 is bu2 before a fourth tone and
neutral in A不A; 一 is yi2 before a fourth tone, yi4 before the others, neutral in A一A,
and keeps yi1 in digit strings, ordinals, months and word-finally; 3-3 becomes 2-3 inside
a prosodic word, with 3-syllable words split by their internal structure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from frontend_svc.words import Word

_NUMERALS = frozenset("零〇一二三四五六七八九十百千万亿两点几")
_PARTICLES = frozenset("吗呢吧啊呀哇啦嘛呗咯哦哟噢")
# Words whose last syllable is neutral in standard speech but which pypinyin's phrase
# table lists with a full tone (hand-picked common cases).
_NEUTRAL_LAST = frozenset(
    [
        "东西",
        "朋友",
        "先生",
        "事情",
        "时候",
        "衣服",
        "意思",
        "地方",
        "明白",
        "关系",
        "漂亮",
        "清楚",
        "知道",
        "认识",
        "告诉",
        "喜欢",
        "舒服",
        "麻烦",
        "客气",
        "便宜",
        "休息",
        "消息",
        "收拾",
        "打扮",
        "打听",
        "打量",
        "商量",
        "石头",
        "木头",
        "骨头",
        "舌头",
        "枕头",
        "馒头",
        "丫头",
        "念头",
        "苗头",
        "眉毛",
        "头发",
        "耳朵",
        "眼睛",
        "鼻子",
        "嘴巴",
        "尾巴",
        "哑巴",
        "结巴",
        "窗户",
        "豆腐",
        "窝囊",
        "糊涂",
        "聪明",
        "笑话",
        "规矩",
        "玻璃",
        "萝卜",
        "葡萄",
        "琵琶",
        "狐狸",
        "月亮",
        "太阳",
        "心思",
        "本事",
        "学问",
        "买卖",
        "生意",
        "大夫",
        "师傅",
        "姑娘",
        "媳妇",
        "亲戚",
        "丈夫",
        "队伍",
        "部分",
        "钥匙",
        "主意",
        "脑袋",
        "眼睛",
        "咳嗽",
        "困难",
        "热闹",
        "暖和",
        "凉快",
        "痛快",
        "爽快",
        "结实",
        "老实",
        "踏实",
        "扎实",
        "厉害",
        "利害",
        "合同",
        "运气",
        "名字",
        "名堂",
        "动静",
        "口袋",
        "精神",
    ]
)
_REDUPLICATED = frozenset(
    [
        "爸爸",
        "妈妈",
        "哥哥",
        "姐姐",
        "弟弟",
        "妹妹",
        "爷爷",
        "奶奶",
        "姥姥",
        "叔叔",
        "伯伯",
        "舅舅",
        "姑姑",
        "婶婶",
        "公公",
        "婆婆",
        "宝宝",
        "娃娃",
        "星星",
        "猩猩",
        "蛐蛐",
        "太太",
        "谢谢",
        "看看",
        "想想",
        "说说",
        "试试",
        "听听",
        "走走",
        "等等",
        "问问",
        "坐坐",
        "歇歇",
        "尝尝",
        "玩玩",
        "聊聊",
        "找找",
        "算算",
    ]
)


def _tone(syl: str) -> int:
    return int(syl[-1])


def _with_tone(syl: str, tone: int) -> str:
    return f"{syl[:-1]}{tone}"


class ToneSandhi:
    """Applies the rules in place to the syllables of han words."""

    def __init__(self, is_word: Callable[[str], bool]) -> None:
        self._is_word = is_word

    def apply(self, words: Sequence[Word]) -> None:
        """Rewrite ``words[i].syllables`` to surface tones (lexicon words excepted)."""
        for run in _han_runs(words):
            self._neutral(run)
            self._bu_yi(run)
            self._third(run)

    def _neutral(self, run: list[Word]) -> None:
        for word in run:
            if word.fixed or not word.syllables:
                continue
            text, syl = word.text, word.syllables
            if text in _NEUTRAL_LAST or text in _REDUPLICATED:
                syl[-1] = _with_tone(syl[-1], 5)
            if (
                len(text) == 1
                and text in _PARTICLES
                and syl[0][:-1]
                in (
                    "a",
                    "ba",
                    "ma",
                    "ne",
                    "ya",
                    "wa",
                    "la",
                    "bei",
                    "lo",
                    "o",
                    "yo",
                )
            ):
                syl[0] = _with_tone(syl[0], 5)

    def _bu_yi(self, run: list[Word]) -> None:
        chars = "".join(w.text for w in run)
        flat = [(w, k) for w in run for k in range(len(w.text))]
        for i, (word, k) in enumerate(flat):
            char = chars[i]
            if word.fixed or char not in "不一":
                continue
            nxt_syl = (
                flat[i + 1][0].syllables[flat[i + 1][1]] if i + 1 < len(flat) else ""
            )
            prev = chars[i - 1] if i > 0 else ""
            nxt = chars[i + 1] if i + 1 < len(chars) else ""
            if char == "不":
                new = self._bu(prev, nxt, nxt_syl)
            else:
                new = self._yi(word, k, prev, nxt, nxt_syl)
            if new is not None:
                word.syllables[k] = new

    @staticmethod
    def _bu(prev: str, nxt: str, nxt_syl: str) -> str | None:
        if prev and prev == nxt:
            return "bu5"  # A不A: 是不是
        if nxt_syl and _tone(nxt_syl) == 4:
            return "bu2"
        return None

    def _yi(self, word: Word, k: int, prev: str, nxt: str, nxt_syl: str) -> str | None:
        if prev and prev == nxt:
            return "yi5"  # A一A: 看一看
        if not nxt_syl or prev == "第" or nxt in "月号日":
            return "yi1"
        if (prev in _NUMERALS or nxt in _NUMERALS) and nxt not in "百千万亿":
            return "yi1"  # digit strings and numbers: 一一零, 十一, 一点五
        if k > 0 and k == len(word.text) - 1:
            return "yi1"  # word-final 一: 统一, 之一
        if k > 0 and self._is_word(word.text[k - 1 : k + 1]):
            return "yi1"  # 统一战线: 一 closes an inner word
        return "yi2" if _tone(nxt_syl) in (4, 5) else "yi4"

    def _third(self, run: list[Word]) -> None:
        next_first = 0
        for word in reversed(run):
            syl = word.syllables
            if not syl:
                continue
            if not word.fixed:
                _third_in_word(word.text, syl, self._is_word)
                if len(syl) == 1 and _tone(syl[0]) == 3 and next_first == 3:
                    syl[0] = _with_tone(syl[0], 2)  # 我|想, 很|好
            next_first = _tone(syl[0])


def _third_in_word(text: str, syl: list[str], is_word: Callable[[str], bool]) -> None:
    tones = [_tone(s) for s in syl]
    n = len(tones)
    if n == 3 and tones == [3, 3, 3]:
        # 1+2 structure (纸|老虎) keeps the first syllable; 2+1 (蒙古|包) changes both.
        changed = [1] if (is_word(text[1:]) and not is_word(text[:2])) else [0, 1]
    elif n == 4:
        changed = [i for i in (0, 2) if tones[i] == 3 and tones[i + 1] == 3]
    else:
        changed = [i for i in range(n - 1) if tones[i] == 3 and tones[i + 1] == 3]
    for i in changed:
        syl[i] = _with_tone(syl[i], 2)


def _han_runs(words: Sequence[Word]) -> list[list[Word]]:
    """Maximal runs of adjacent han words (punctuation, spaces, letters cut a run)."""
    runs: list[list[Word]] = []
    current: list[Word] = []
    for word in words:
        if word.kind == "han" and word.syllables:
            current.append(word)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs
