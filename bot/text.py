"""Text normalization shared by every stage: HTML to text, NFKC, script and case folding, URLs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

_DROP_TAGS = ("script", "style", "noscript", "iframe", "img", "figcaption", "small", "svg", "form")
_BLOCK_RE = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/blockquote|/tr|/figure)\b[^>]*>", re.I)
# A run of white space holding a line break; `(?<!\s)` tries each run once, from its start
# (without it a long run with no line break is rescanned from every position: quadratic).
_SOURCE_BREAK_RE = re.compile(r"(?<!\s)\s*\n\s*")  # line breaks in HTML source are only spaces
_SPACE_RE = re.compile(r"[ \t\u3000\xa0]+")
_NEWLINES_RE = re.compile(r"(?<!\s)\s*\n\s*")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD_RE = re.compile(r"[A-Za-z]+")
_AMP_PATH_RE = re.compile(r"/(?:amp|amp\.html)$")

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
    if not is_cjk(text):
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


def fold_key(text: str) -> str:
    """`fold`ed, with whitespace runs as one space: the form rule terms, entity aliases, cues
    and historical names are compared in."""
    return " ".join(fold(text).split())


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, without scripts, images or captions; one line a block.

    Long markup is parsed in pieces (`html_pieces`): building the tree of nested or misnested
    markup costs time quadratic in its tags, so each parse is kept small.
    """
    if "<" not in html:
        return clean(html)
    html = _block_breaks(_SOURCE_BREAK_RE.sub(" ", html))
    return clean("".join(text for _, text in html_pieces(html)))


def _block_breaks(html: str) -> str:
    """`html` with a line break after each block's end tag and `<br>`. Only the part up to the
    last `>` is searched: past it no tag can end, and each `<br` there would be a failed
    scan to the end (quadratic)."""
    end = html.rfind(">") + 1
    return _BLOCK_RE.sub(lambda m: m.group(0) + "\n", html[:end]) + html[end:]


def _text_of(tree: LexborHTMLParser) -> str:
    """The text of a parsed document's body, without the _DROP_TAGS elements."""
    for tag in _DROP_TAGS:
        for node in tree.css(tag):
            node.decompose()
    root = tree.body or tree.root
    return root.text(separator="") if root is not None else ""


# ---- markup in pieces
#
# An HTML tree builder (lexbor, like any that follows the standard) walks the stack of open
# elements or the list of formatting elements for most tags: `<div>` nested 50,000 deep takes
# seconds, and so do misnested `<b id=n>`, `<ul><li>`, `<b><div></b>`... What bounds the work
# whatever the parser does is the number of tags per parse, and every tag starts with `<`.
# So markup holding more than PARSE_TAGS `<` is cut where a token starts into pieces of at
# most twice that (a comment or raw text holding more is cut inside it; a tag holding more
# starts a piece, without its attributes). Each piece but the last ends with two probes: an
# empty `<template>`, which HTML puts where the next element would go (in a table, a select
# or the head too), then an unknown element, which also gets the formatting HTML reopens for
# text (`<small>` left open before a `</p>`). Their ancestors in the piece's tree, as lexbor
# built it, are reopened at the start of the next piece: `<body>` (once past the head), their
# start tags without attributes (the outermost REOPEN_DEPTH), then the cut's own lead (`<!--`
# inside a comment, `<script>` inside a script). The text of the pieces, in order, is the text
# of the whole, even cut before every token (tests/test_html_text.py; in development also
# 1,638 HTML pages and 5,028 documents of feedparser's tests); tag soup that mixes tables,
# forms or svg with stray tags can differ where it is cut.

PARSE_TAGS = 512  # `<` per parse (at most twice that, and the reopened tags)
REOPEN_DEPTH = 64
_REOPEN_NAME = 40  # longer tag names are not reopened (no HTML element has one)
_RAW_TEXT = ("script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
             "plaintext")  # elements whose text holds no tags
_NEWLINE_AFTER = ("pre", "listing", "textarea")  # HTML drops a line break right after these
_SECTIONS = ("tbody", "thead", "tfoot", "tr")
_SPACE = "\t\n\f\r "
# A tag's attributes and `>` as the HTML tokenizer reads them: a quote opens a value only
# after `=`. Possessive quantifiers: a scan that fails is never retried shorter (that is
# quadratic on `<br<br<br...`). The second form holds no `<`.
_ATTRS = (rf"(?:[{_SPACE}/]++|[^{_SPACE}/>][^{_SPACE}/>=]*+"
          rf"(?:[{_SPACE}]*+=[{_SPACE}]*+(?:\"[^\"]*+\"|'[^']*+'|[^{_SPACE}>]*+))?)*+>")
_PLAIN_ATTRS = (rf"(?:[{_SPACE}/]++|[^{_SPACE}/><][^{_SPACE}/>=<]*+"
                rf"(?:[{_SPACE}]*+=[{_SPACE}]*+(?:\"[^\"<]*+\"|'[^'<]*+'|[^{_SPACE}><]*+))?)*+>")
# Plain markup: text, a tag without `<` inside that starts no raw text, a `<` that is text.
_PLAIN = (rf"(?:[^<]++|<(?!(?i:{'|'.join(_RAW_TEXT)})[{_SPACE}/>])[A-Za-z][^{_SPACE}/><]*+"
          rf"{_PLAIN_ATTRS}|</[A-Za-z][^{_SPACE}/><]*+{_PLAIN_ATTRS}|<(?![A-Za-z!?/]))")
_PLAIN_RE = re.compile(_PLAIN)
_TAG_RE = re.compile(rf"<(/?)([A-Za-z][^{_SPACE}/>]*+){_ATTRS}")
_COMMENT_RE = re.compile(r"<!--(?:-?>|.*?--!?>)", re.S)
_BOGUS_RE = re.compile(r"<[!?/][^>]*+>")  # doctype, `<![CDATA[...>`, `<?...>`, `</ x>`
_RAW_END_RE = {name: re.compile(rf"</{name}[{_SPACE}/>]", re.I) for name in _RAW_TEXT}


def html_pieces(html: str) -> Iterator[tuple[str, str]]:
    """The markup lexbor parses, piece by piece, and each piece's text (without the probes):
    `html` whole when it holds at most PARSE_TAGS `<` (see the notes above)."""
    if html.count("<") <= PARSE_TAGS:
        yield html, _text_of(LexborHTMLParser(html))
        return
    probe_name = _probe_name(html)
    context, in_body = "", False
    for lead, markup, closer in _Cutter(html).cuts():
        probes = f"{closer}<template {probe_name}></template><{probe_name}>"
        source = context + lead + markup + (probes if closer is not None else "")
        tree = LexborHTMLParser(source)
        if closer is not None:
            context, in_body = _context(tree, probe_name, in_body=in_body)
        text = _text_of(tree)  # (a probe swallowed as raw text is not text of the markup)
        yield source, text.removesuffix(probes) if closer is not None else text


def _probe_name(html: str) -> str:
    """An element name that `html` does not hold."""
    name, lowered = "newsbot-cut", html.lower()
    while name in lowered:
        name += "-x"
    return name


class _Cutter:
    """Finds where to cut markup: token starts, about every PARSE_TAGS `<`."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.end = len(html)  # (less when a token left open holds the rest)
        self.pieces: list[tuple[str, str, str | None]] = []  # (lead, markup, closer)
        self.lead = ""  # what the current piece starts with: `<!--` inside a comment...
        self.start = 0  # where it starts in `html`
        self.used = 0  # `<` in it

    def cuts(self) -> list[tuple[str, str, str | None]]:
        """(lead, markup, closer) of each piece; the closer (ending a comment or raw text
        cut inside) is None on the last."""
        html, pos = self.html, 0
        while pos < self.end:
            if self.used >= PARSE_TAGS:
                self._cut(pos)
            stop = _plain_run(PARSE_TAGS).match(html, pos).end()  # type: ignore[union-attr]
            self.used += html.count("<", pos, stop)
            pos = stop
            if pos < self.end and self.used < PARSE_TAGS and not _PLAIN_RE.match(html, pos):
                pos = self._token(pos)
        self.pieces.append((self.lead, html[self.start:self.end], None))
        return self.pieces

    def _cut(self, at: int, *, closer: str = "", lead: str = "") -> None:
        self.pieces.append((self.lead, self.html[self.start:at], closer))
        self.lead, self.start, self.used = lead, at, 0

    def _token(self, lt: int) -> int:
        """Read the comment, raw text, tag with `<` inside or token left open at `lt`;
        return where it ends."""
        html = self.html
        self.used += 1
        if html.startswith("<!--", lt):
            comment = _COMMENT_RE.match(html, lt)
            return self._region(lt, comment.end() if comment else None, closer="-->",
                                lead="<!--")
        if (tag := _TAG_RE.match(html, lt)) is None:
            bogus = _BOGUS_RE.match(html, lt)
            return self._region(lt, bogus.end() if bogus else None, closer=">", lead="<!")
        name, inside = tag.group(2).lower(), html.count("<", lt + 1, tag.end())
        if inside > PARSE_TAGS:  # it starts a piece, reopened without its attributes
            self._cut(lt, lead=_start_tag(name, closing=tag.group(1)))
            self.start, self.used = tag.end(), 1
        else:
            self.used += inside
        if tag.group(1) or name not in _RAW_TEXT:
            return tag.end()
        close = _RAW_END_RE[name].search(html, tag.end()) if name != "plaintext" else None
        self._region(tag.end() - 1, close.start() if close else self.end,
                     closer=f"</{name}>", lead=_start_tag(name))
        end_tag = _TAG_RE.match(html, close.start()) if close else None
        return end_tag.end() if end_tag else self.end  # (a cut never falls before it)

    def _region(self, at: int, end: int | None, *, closer: str, lead: str) -> int:
        """Count the `<` in a comment or raw text (after `at`, up to `end`); cut inside it
        where a piece would pass twice PARSE_TAGS. A tag or comment left open (`end` None)
        holds the rest of the markup, which has no text: it is left out."""
        html = self.html
        inside = html.count("<", at + 1, self.end if end is None else end)
        if self.used + inside <= 2 * PARSE_TAGS:
            self.used += inside
            return self.end if end is None else end
        if end is None:
            self.end = at
            return at
        while (at := html.find("<", at + 1, end)) >= 0:
            if self.used >= 2 * PARSE_TAGS:
                self._cut(at, closer=closer, lead=lead)
            self.used += 1
        return end


@lru_cache(maxsize=4)
def _plain_run(units: int) -> re.Pattern[str]:
    """Plain markup, up to `units` of it (text between tags, tags)."""
    return re.compile(rf"{_PLAIN}{{0,{units}}}+")


def _start_tag(name: str, *, closing: str = "") -> str:
    """`<name>` (or `</name>`) to reopen an element; nothing for a name no element has."""
    if len(name) > _REOPEN_NAME or "<" in name:
        return ""
    return f"<{closing}{name}>" + ("\n" if name in _NEWLINE_AFTER and not closing else "")


def _context(tree: LexborHTMLParser, probe_name: str, *, in_body: bool) -> tuple[str, bool]:
    """The markup that reopens, in a new document, what was open at a piece's probes; and
    whether the markup so far is past the head."""
    probe = tree.css_first(f"template[{probe_name}]")
    if probe is None:  # inside a template's content, or swallowed as raw text
        inside = any(probe_name in (node.html or "") for node in tree.css("template"))
        return ("<body>" if in_body else "") + ("<template>" if inside else ""), in_body
    chain, top = _ancestors(probe)
    in_body = in_body or top != "head"
    element = tree.css_first(probe_name)
    if element is not None:  # unless it went elsewhere (before a table, out of a select)
        element_chain, _ = _ancestors(element)
        if [e.mem_id for e in element_chain[:len(chain)]] == [e.mem_id for e in chain]:
            chain, probe = element_chain, element
    tags = [tag for name in _reopened(chain, probe) if (tag := _start_tag(name))]
    return ("<body>" if in_body else "") + "".join(tags[:REOPEN_DEPTH]), in_body


def _ancestors(node: LexborNode) -> tuple[list[LexborNode], str | None]:
    """The elements `node` is in, below the body or head, outermost first; and which of the
    two (None in a template's content)."""
    chain = []
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "head", "html"):
        if parent.tag is None or parent.tag[:1] in "-#":
            return [], None
        chain.append(parent)
        parent = parent.parent
    return chain[::-1], parent.tag if parent is not None else None


def _reopened(chain: list[LexborNode], probe: LexborNode) -> list[str]:
    """The names of `chain`; an element that HTML placed before a table while the table was
    open (foster parenting) comes after the table and its open rows."""
    names: list[str] = []
    for node in [*chain, probe]:
        if (following := node.next) is not None and following.tag == "table":
            names.append("table")
            inner = following.last_child
            while inner is not None and inner.tag in _SECTIONS:
                names.append(str(inner.tag))
                inner = inner.last_child
        if node is not probe:
            names.append(str(node.tag))
    return names


def language_of(text: str) -> str:
    """"zh" when `text` has more Chinese characters than Latin words, else "en" (the two
    languages newsbot reads; other Latin-script text counts as "en")."""
    sample = text[:600]
    if not is_cjk(sample):  # no Chinese: no need to list the Latin words
        return "en"
    return "zh" if len(_CJK_RE.findall(sample)) > len(_LATIN_WORD_RE.findall(sample)) \
        else "en"


def is_cjk(text: str) -> bool:
    """True when `text` contains a CJK ideograph (ASCII text answers at once: the pattern
    scans 350 characters in 3 us, isascii in 0.05)."""
    return not text.isascii() and _CJK_RE.search(text) is not None


def canonical_url(url: str) -> str:
    """The URL two copies of one article share: no tracking parameters, AMP or mobile host."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m.", "mobile.", "amp."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    path = _AMP_PATH_RE.sub("", parts.path) or "/"
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
    return "".join(filter(str.isalnum, fold(title)))
