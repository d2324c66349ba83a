"""The encoding of a feed document whose bytes do not fit the one it declares.

feedparser decodes a document in the encoding RFC 3023 picks from the Content-Type and the XML
declaration; when the bytes do not fit, it tries others and ends with Windows-1252 and
ISO-8859-2, which read anything, and flags `CharacterEncodingOverride`. After such a parse,
`recode` decides how the document is read instead:

1. in an encoding the document declares (its XML declaration or its charset): left as
   feedparser read it, no note (EUC-JP, EUC-KR or Shift_JIS served as `text/xml`, which RFC
   3023 takes for US-ASCII, are read in their own encoding, not as GB18030);
2. mostly in the declared encoding (at least as many good non-ASCII characters as bad bytes):
   in it, each bad byte becoming U+FFFD, so `朝鲜派兵 \\xff X` reads `朝鲜派兵 \\ufffd X`;
3. else in the first of the language's encodings that fits every byte (UTF-8, then GB18030
   or Big5 for Chinese feeds): a GBK feed labelled UTF-8;
4. else as feedparser read it (Windows-1252: the usual Latin-1 feed labelled UTF-8).

Cases 2 to 4 leave a note for the feed's state (`warning`), which `newsbot feeds list` and
`/status` show to operators and admins.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

XML_ENCODING_RE = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])([^\"']*)\2")
_CHARSET_RE = re.compile(r";\s*charset\s*=\s*[\"']?([^\"';\s]+)", re.IGNORECASE)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "ascii": "utf_8"}
DEFAULT_MEDIA = "application/xml"


@dataclass(frozen=True, slots=True)
class Recoded:
    """How to read a document again: `content` (UTF-8, to parse again; None to keep
    feedparser's reading), its `content_type`, and the note for the feed's state."""

    content: bytes | None
    content_type: str
    note: str


def codec_name(name: str | None) -> str | None:
    """Python's name for an encoding label, a superset for GB2312/GBK; None if unknown."""
    try:
        found = codecs.lookup((name or "").strip()).name
    except LookupError:
        return None
    return _SUPERSETS.get(found, found)


def declared(content: bytes, content_type: str | None) -> list[str]:
    """The encodings a document declares (Python's names): its byte-order mark (or UTF-16/32
    form of `<?`), its Content-Type charset and its XML declaration's, else UTF-8. US-ASCII
    counts as UTF-8, its superset."""
    charset = _CHARSET_RE.search(content_type or "")
    xml = XML_ENCODING_RE.match(content[:1024])
    labels = [_marked(content[:4]), charset.group(1) if charset else None,
              xml.group(3).decode("ascii", "replace") if xml else None]
    names = [codec_name(label) for label in labels if label]
    return list(dict.fromkeys(n for n in names if n is not None)) or ["utf_8"]


def _marked(head: bytes) -> str | None:
    """The encoding a document's first bytes show (a byte-order mark, or `<?` in UTF-16/32)."""
    return next((name for marks, name in _MARKS if head.startswith(marks)), None)


_MARKS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
          (b"<\0\0\0", "utf-32-le"), (b"\0\0\0<", "utf-32-be"),
          (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
          (b"<\0?\0", "utf-16-le"), (b"\0<\0?", "utf-16-be"), (codecs.BOM_UTF8, "utf-8"),
          (b"\x4c\x6f\xa7\x94", "cp037"))


def recode(content: bytes, *, used: str | None, language: str | None,
           content_type: str | None) -> Recoded | None:
    """How to read a document feedparser read in `used` (its `encoding`); None when that is
    an encoding the document declares, and its reading stands (see the module docstring)."""
    media = (content_type or DEFAULT_MEDIA).split(";", 1)[0].strip() or DEFAULT_MEDIA
    utf8_type = f"{media}; charset=utf-8"
    own = declared(content, content_type)
    if codec_name(used) in own:
        return None
    override = f"document declared as {_label(own[0])}, but parsed as {used or 'nothing'}"
    for encoding in own:
        if (mostly := _mostly(content, encoding)) is not None:
            text, bad = mostly
            return Recoded(_as_utf8(text), utf8_type,
                           f"{bad} byte(s) not valid {_label(encoding)} replaced by U+FFFD")
    for encoding in _encodings_to_try(language):
        try:
            text = content.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        return Recoded(_as_utf8(text), utf8_type, f"{override}; read as {encoding}")
    return Recoded(None, content_type or DEFAULT_MEDIA, str(override))


def _mostly(content: bytes, encoding: str) -> tuple[str, int] | None:
    """(text, bad bytes) when `content` is mostly in `encoding`: some bytes do not fit, but
    no more than the good non-ASCII characters around them; else None."""
    try:
        text = content.decode(encoding, errors="replace")
    except LookupError:
        return None
    replaced = text.count("\ufffd")
    bad = replaced - _written_replacements(content, encoding)
    good = len(text) - len(text.encode("ascii", "ignore")) - replaced
    return (text, bad) if 0 < bad <= good else None


def _written_replacements(content: bytes, encoding: str) -> int:
    """How many U+FFFD the document itself spells in `encoding` (not decoding errors)."""
    try:
        return content.count("\ufffd".encode(encoding))
    except (UnicodeError, LookupError):
        return 0


def _encodings_to_try(language: str | None) -> tuple[str, ...]:
    """Encodings to try, in order, for a feed whose bytes do not fit its declared encoding."""
    lang = (language or "").lower()
    if lang.startswith(("zh-tw", "zh-hk", "zh-mo", "zh-hant")):
        return ("utf-8", "big5", "gb18030")
    if lang.startswith("zh"):
        return ("utf-8", "gb18030", "big5")
    return ("utf-8",)


def _as_utf8(text: str) -> bytes:
    """`text` as UTF-8 bytes whose XML declaration (if any) says so."""
    return XML_ENCODING_RE.sub(rb"\1\2utf-8\2", text.encode("utf-8", "replace"), count=1)


def _label(encoding: str) -> str:
    """`utf_8` -> `UTF-8` for notes."""
    return encoding.replace("_", "-").upper()
