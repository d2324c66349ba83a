"""Text normalization shared by every stage: HTML to text, NFKC, script and case folding, URLs."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

_DROP_TAGS = ("script", "style", "noscript", "iframe", "img", "figcaption", "small", "svg", "form")
_BLOCK_RE = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/blockquote|/tr|/figure)\b[^>]*>", re.I)
_SOURCE_BREAK_RE = re.compile(r"\s*\n\s*")  # line breaks in HTML source are only spaces
_SPACE_RE = re.compile(r"[ \t\u3000\xa0]+")
_NEWLINES_RE = re.compile(r"\s*\n\s*")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD_RE = re.compile(r"[A-Za-z]+")

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "ocid", "cmpid",
     "ref", "ref_src", "spm", "share", "s_cid", "at_medium", "at_campaign", "at_custom1"}
)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc  # the C++ OpenCC build; loading its dictionaries takes a few ms, so once

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (OpenCC t2s); other text unchanged.
    A lone surrogate (which OpenCC cannot encode) becomes U+FFFD first."""
    if not _CJK_RE.search(text):
        return text
    try:
        return str(_t2s().convert(text))
    except UnicodeEncodeError:
        return str(_t2s().convert(without_lone_surrogates(text)))


def without_lone_surrogates(text: str) -> str:
    """`text` with each unpaired UTF-16 surrogate (from a bad escape) replaced by U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean(text: str) -> str:
    """NFKC-normalize and collapse runs of spaces; keep line breaks as paragraph marks."""
    text = unicodedata.normalize("NFKC", text)
    text = _SPACE_RE.sub(" ", text)
    return _NEWLINES_RE.sub("\n", text).strip()


def fold(text: str) -> str:
    """The form rules and fingerprints compare: NFKC, Simplified script, case-folded."""
    return to_simplified(unicodedata.normalize("NFKC", text)).casefold()


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, without scripts, images or captions; one line a block."""
    if "<" not in html:
        return clean(html)
    html = _BLOCK_RE.sub(lambda m: m.group(0) + "\n", _SOURCE_BREAK_RE.sub(" ", html))
    tree = LexborHTMLParser(html)
    for tag in _DROP_TAGS:
        for node in tree.css(tag):
            node.decompose()
    root = tree.body or tree.root
    return clean(root.text(separator="") if root is not None else "")


def language_of(text: str) -> str:
    """"zh" when `text` has more Chinese characters than Latin words, else "en" (the two
    languages newsbot reads; other Latin-script text counts as "en")."""
    sample = text[:600]
    return "zh" if len(_CJK_RE.findall(sample)) > len(_LATIN_WORD_RE.findall(sample)) \
        else "en"


def is_cjk(text: str) -> bool:
    """True when `text` contains a CJK ideograph."""
    return _CJK_RE.search(text) is not None


def canonical_url(url: str) -> str:
    """The URL two copies of one article share: no tracking parameters, AMP or mobile host."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m.", "mobile.", "amp."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    path = re.sub(r"/(?:amp|amp\.html)$", "", parts.path) or "/"
    path = path.rstrip("/") or "/"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=False)
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
        and k.lower() != "amp"
    ]
    return urlunsplit(("https" if parts.scheme in ("http", "https") else parts.scheme,
                       host, path, urlencode(sorted(query)), ""))


def normalized_title(title: str) -> str:
    """A title reduced to letters and digits, folded, for exact duplicate checks."""
    return "".join(ch for ch in fold(title) if ch.isalnum())
