"""Short summaries of a story for alerts and digests: extractive, Chinese and English, offline.

`Summarizer` is the seam (a model-based summarizer can be plugged in later);
`ExtractiveSummarizer` is the default and needs no network:

1. Clean each report: drop lines that are not prose (timestamps, image captions and credits,
   "read more", share and RSS footers, bare URLs, subheadings without a full stop) and strip
   leading datelines and outlet tags ("华盛顿 —", "（德国之声中文网）", "SEOUL (Reuters) -").
2. Split into sentences at 。！？； and at Latin . ! ? followed by a space and a capital, a
   quote or a CJK character, keeping closing quotes with their sentence and not splitting
   abbreviations ("U.S.", "Mr.") or decimals.
3. Score each sentence by its position in its report, by the terms that matched the chat's
   rules, and by how much of it the other outlets' reports share (character bigrams for CJK,
   words for Latin text). The report whose best sentences score highest is the source.
4. Keep its best two or three sentences in their original order, within BUDGET units (a CJK
   character is one unit, a Latin word five: about 300 characters or 60 words), skipping a
   sentence that repeats one already kept.

Summaries are plain text: callers escape them for the platform.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.models import Article
from bot.text import clean, fold, is_cjk

BUDGET = 300  # units: a CJK character is 1, a Latin word 5 (about 300 characters or 60 words)
MAX_SENTENCES = 3
MIN_SENTENCE_UNITS = 8
LATIN_WORD_UNITS = 5
ONE_LINE_CHARS = 140  # a story's one-line summary in digests and lists

_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_CHAR_RE = re.compile(f"[{_CJK}]")
_LATIN_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+(?:[.,]\d+)*")
_CLOSERS = "\"'”’」』)）】"
# A sentence ends at CJK 。！？； (also their NFKC forms !?;) or a Latin . ! ? that is followed by
# a space and something that starts a sentence; closing quotes and brackets stay with it.
_CJK_END_RE = re.compile(f"([。!?;！？；…]+[{re.escape(_CLOSERS)}]*)")
_LATIN_END_RE = re.compile(rf"([.!?][{re.escape(_CLOSERS)}]*)\s+(?=[\"'“‘(A-Z{_CJK}])")
_LAST_WORD_RE = re.compile(r"(\S+)$")
_ABBREVIATIONS = frozenset(
    "mr ms mrs dr st no jr sr vs mt gen col lt sgt rep sen gov prof rev jan feb mar apr jun "
    "jul aug sep sept oct nov dec inc corp ltd co".split())

# Whole lines that are never prose.
_TIMESTAMP_LINE_RE = re.compile(
    r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+)?[\d\s:./,TZ+\-年月日时分秒GMTUTC()]*"
    r"(?:(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?[\d\s:,./\-GMTUTC+]*)?$",
    re.I)
_BOILERPLATE_LINE_RE = re.compile(
    r"^(?:图[像片]?(?:来源|加注文字|说明)|圖[像片]?(?:來源|加註文字|說明)|图为|圖為|资料图|資料圖|"
    r"摄影|攝影|图片|圖片|视频|視頻|分享|获取更多|獲取更多|订阅|訂閱|点击|點擊|相关(?:报道|阅读|新闻)|"
    r"延伸阅读|延伸閱讀|责任编辑|責任編輯|编辑|編輯|"
    r"(?:photo|image|picture|video|file photo|caption|credit|source|read more|read also|"
    r"see also|related|more on this|click here|sign up|subscribe|share this|follow us|"
    r"advertisement|getty images|reuters/|ap photo|afp)\b)", re.I)
_URL_LINE_RE = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
# A photo caption in running text: a full date, then a clause describing the picture.
_CAPTION_RE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*[,，]")
# Leading datelines and outlet tags, repeated: "华盛顿 —", "(德国之声中文网)",
# "SEOUL, Nov 4 (Reuters) -".
_LEAD_RE = re.compile(
    r"^(?:\s*(?:[(（【\[][^()（）【】\[\]]{1,30}(?:网|網|社|台|报|報|电|電|讯|訊|Reuters|AP|AFP|"
    r"BBC|VOA|RFI|DW|Bloomberg|Xinhua)[^()（）【】\[\]]{0,10}[)）】\]]"
    r"|[" + _CJK + r"]{2,8}\s*[—–-]{1,2}(?=\s*[" + _CJK + r"])"
    r"|[A-Z][A-Za-z .'-]{1,30}(?:,\s*[A-Z][a-z]{2,8}\.?\s*\d{1,2})?\s*(?:\([A-Za-z ]{2,20}\)\s*)?"
    r"[—–-]{1,2}\s"
    r"|(?:by|von|par)\s+[A-Z][\w.' -]{2,40}\n"
    r")\s*)+")
_BIGRAM_SPLIT_RE = re.compile(f"[^{_CJK}]+")


class Summarizer(Protocol):
    """Summarizes a story from its reports' text (the seam for other summarizers)."""

    def summarize(self, articles: Sequence[Article], *, terms: Sequence[str] = ()) -> str:
        """A short plain-text summary of the story the `articles` report (first report first)."""
        ...


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    index: int  # position in its report
    units: int
    features: frozenset[str]


class ExtractiveSummarizer:
    """Picks the best two or three sentences of the best report; see the module docstring."""

    def __init__(self, *, budget: int = BUDGET, max_sentences: int = MAX_SENTENCES) -> None:
        self.budget = budget
        self.max_sentences = max_sentences

    def summarize(self, articles: Sequence[Article], *, terms: Sequence[str] = ()) -> str:
        """A summary of at most `max_sentences` sentences within `budget` units; "" if none."""
        reports = [sents for a in articles if (sents := sentences_of(a.text))]
        if not reports:
            return ""
        folded_terms = [t for t in (fold(term) for term in terms) if t]
        support = [Counter(f for s in sents for f in s.features) for sents in reports]
        total = sum(support, Counter[str]())
        best: tuple[float, int, list[tuple[float, _Sentence]]] | None = None
        for n, sents in enumerate(reports):
            others = total - support[n]
            scored = [(self._score(s, folded_terms, others, len(reports) > 1), s) for s in sents]
            top = sorted((score for score, _ in scored), reverse=True)[:self.max_sentences]
            key = sum(top)
            if best is None or key > best[0]:
                best = (key, n, scored)
        assert best is not None
        return self._pick(best[2])

    @staticmethod
    def _score(sentence: _Sentence, terms: Sequence[str], others: Counter[str],
               several: bool) -> float:
        position = 1.0 / (1.0 + 0.5 * sentence.index)
        folded = fold(sentence.text)
        term_hits = sum(1 for t in terms if t in folded)
        shared = (sum(1 for f in sentence.features if others[f]) / len(sentence.features)
                  if several and sentence.features else 0.0)
        return 1.2 * position + 0.4 * min(term_hits, 3) + 1.5 * shared

    def _pick(self, scored: list[tuple[float, _Sentence]]) -> str:
        chosen: list[_Sentence] = []
        used = 0
        for _, sentence in sorted(scored, key=lambda pair: (-pair[0], pair[1].index)):
            if len(chosen) == self.max_sentences:
                break
            if any(_overlap(sentence, c) > 0.6 for c in chosen):
                continue
            if used + sentence.units > self.budget:
                if not chosen:  # the best sentence alone is too long: cut it
                    chosen.append(_Sentence(_cut(sentence.text, self.budget), sentence.index,
                                            self.budget, sentence.features))
                    break
                continue
            chosen.append(sentence)
            used += sentence.units
        chosen.sort(key=lambda s: s.index)
        return _join(s.text for s in chosen)


def sentences_of(text: str) -> list[_Sentence]:
    """The prose sentences of a report, boilerplate and datelines removed, in order."""
    found: list[_Sentence] = []
    for raw in clean(text).split("\n"):
        if not _is_prose_line(raw.strip()):
            continue
        for sentence in split_sentences(_LEAD_RE.sub("", raw.strip()).strip()):
            units = measure(sentence)
            if units >= MIN_SENTENCE_UNITS and _ends_sentence(sentence):
                found.append(_Sentence(sentence, len(found), units, _features(sentence)))
    return found


def one_line(summary: str, limit: int = ONE_LINE_CHARS) -> str:
    """The first sentence of `summary`, cut to `limit` characters with an ellipsis."""
    first = next(iter(split_sentences(summary)), "")
    flat = " ".join(first.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph (CJK and Latin punctuation, quotes kept with the sentence)."""
    pieces: list[str] = []
    for chunk in _split_keep(_CJK_END_RE, text):
        pieces.extend(_split_latin(chunk))
    return [p.strip() for p in pieces if p.strip()]


def measure(text: str) -> int:
    """Summary units of `text`: one per CJK character, LATIN_WORD_UNITS per Latin word."""
    cjk = len(_CJK_CHAR_RE.findall(text))
    latin = len(_LATIN_WORD_RE.findall(_CJK_CHAR_RE.sub(" ", text)))
    return cjk + LATIN_WORD_UNITS * latin


def _split_keep(pattern: re.Pattern[str], text: str) -> list[str]:
    """`text` cut after each match of `pattern` (the match stays with the piece before it)."""
    parts = pattern.split(text)
    return ["".join(parts[i:i + 2]) for i in range(0, len(parts), 2)]


def _split_latin(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _LATIN_END_RE.finditer(text):
        if text[match.start(1)] == "." and _is_abbreviation(text[start:match.start(1)]):
            continue
        pieces.append(text[start:match.end(1)])
        start = match.end()
    pieces.append(text[start:])
    return pieces


def _is_abbreviation(head: str) -> bool:
    """True when the word before a full stop is an abbreviation ("Mr", "U.S", "A")."""
    word = _LAST_WORD_RE.search(head)
    if word is None:
        return False
    last = word.group(1).lstrip("\"'“‘(")
    return last.lower() in _ABBREVIATIONS or len(last) == 1 or (
        "." in last and all(len(part) <= 2 for part in last.split(".")))


def _is_prose_line(line: str) -> bool:
    if not line or _TIMESTAMP_LINE_RE.match(line) or _URL_LINE_RE.match(line):
        return False
    if _BOILERPLATE_LINE_RE.match(line) or _CAPTION_RE.match(line):
        return False
    return any(c.isalpha() for c in line)


def _ends_sentence(sentence: str) -> bool:
    """True for a full sentence (ends in terminal punctuation), not a heading or a credit."""
    return sentence.rstrip(_CLOSERS)[-1:] in "。!?;！？；….:"


def _features(sentence: str) -> frozenset[str]:
    folded = fold(sentence)
    if is_cjk(folded):
        grams = {run[i:i + 2] for run in _BIGRAM_SPLIT_RE.split(folded) for i in
                 range(len(run) - 1)}
    else:
        grams = set()
    words = {w for w in _LATIN_WORD_RE.findall(_CJK_CHAR_RE.sub(" ", folded)) if len(w) > 3}
    return frozenset(grams | words)


def _overlap(a: _Sentence, b: _Sentence) -> float:
    if not a.features or not b.features:
        return 0.0
    return len(a.features & b.features) / min(len(a.features), len(b.features))


def _cut(text: str, budget: int) -> str:
    """`text` cut to `budget` units at a clause boundary if one is near, with an ellipsis."""
    out, used = [], 0
    for token in re.findall(rf"[{_CJK}]|[^\W\d_]+|\d+|\s+|.", text):
        cost = measure(token)
        if used + cost > budget - 1:
            break
        out.append(token)
        used += cost
    head = "".join(out).rstrip()
    for mark in ("，", ",", "、", ";", "；"):
        cut = head.rfind(mark)
        if cut > len(head) * 0.6:
            head = head[:cut]
            break
    return head.rstrip(" ,，、;；:") + "…"


def _join(sentences: Iterable[str]) -> str:
    """Sentences joined: no space after CJK punctuation, one after Latin."""
    out = ""
    for text in sentences:
        if out and not (is_cjk(out[-1]) or out[-1] in "。！？；”」』）" or is_cjk(text[:1])):
            out += " "
        out += text
    return out
