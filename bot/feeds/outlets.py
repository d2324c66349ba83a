"""Which outlet a URL belongs to, for articles whose feed and item name none.

A host in the table below gets its name (voachinese.com -> VOA); any other host its
registered domain by the Public Suffix List (news.tvbs.com.tw -> tvbs.com.tw; the list ships
inside the `publicsuffixlist` package and is read from disk once, on first use, never
downloaded), punycode shown as Unicode when it decodes to readable text. An IP address,
`localhost`, a bare public suffix or a name under no listed suffix is shown as the host
itself, without `www.`. Only a URL without a host is `unknown`. Nothing here raises on a
malformed URL or host.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from bot.text import html_to_text, without_lone_surrogates

UNKNOWN = "unknown"
MAX_OUTLET = 60  # characters of an outlet name shown to users
MAX_HOST = 253  # longer is no DNS name: shown as text, never decoded
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})  # IDNA label separators
_NOT_IN_LABEL = frozenset(" ./:@[]%")

# Registered domain (or a suffix of the host) -> outlet name shown to users.
OUTLETS: dict[str, str] = {
    "voachinese.com": "VOA",
    "voanews.com": "VOA",
    "voacantonese.com": "VOA",
    "dw.com": "DW",
    "bbc.com": "BBC",
    "bbc.co.uk": "BBC",
    "bbci.co.uk": "BBC",
    "rfi.fr": "RFI",
    "rfa.org": "RFA",
    "nytimes.com": "NYT",
    "cn.nytimes.com": "NYT",
    "reuters.com": "Reuters",
    "apnews.com": "AP",
    "theguardian.com": "Guardian",
    "ft.com": "FT",
    "ftchinese.com": "FT",
    "aljazeera.com": "Al Jazeera",
    "france24.com": "France 24",
    "abc.net.au": "ABC",
    "cna.com.tw": "CNA",
    "zaobao.com": "Zaobao",
    "zaobao.com.sg": "Zaobao",
    "scmp.com": "SCMP",
    "yna.co.kr": "Yonhap",
    "yonhapnews.co.kr": "Yonhap",
    "nhk.or.jp": "NHK",
    "kyodonews.net": "Kyodo",
    "tass.com": "TASS",
    "xinhuanet.com": "Xinhua",
    "news.cn": "Xinhua",
    "globaltimes.cn": "Global Times",
    "kyivindependent.com": "Kyiv Independent",
    "npr.org": "NPR",
    "cnn.com": "CNN",
    "washingtonpost.com": "Washington Post",
    "wsj.com": "WSJ",
    "bloomberg.com": "Bloomberg",
    "economist.com": "Economist",
    "lemonde.fr": "Le Monde",
    "spiegel.de": "Spiegel",
}


def outlet_from_url(url: str | None) -> str:
    """The outlet of `url`'s site: its known name, else its registered domain, else its
    host; `unknown` when there is no host."""
    host = _host(url)
    return _outlet_from_host(host) if host else UNKNOWN


def outlet_name(text: str) -> str:
    """`text` (a feed's `<source>` name) as users see an outlet: plain, one line, capped."""
    return _one_line(html_to_text(without_lone_surrogates(text)))


def _one_line(text: str) -> str:
    """`text` without control characters, its whitespace collapsed, at most MAX_OUTLET long."""
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = " ".join(without_lone_surrogates(text).split())
    return text if len(text) <= MAX_OUTLET else text[:MAX_OUTLET - 1].rstrip() + "…"


def _host(url: str | None) -> str:
    """`url`'s host, lower-case, without user, port or final dot; empty if it has none."""
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:  # e.g. an unclosed IPv6 bracket, a netloc NFKC would change
        return ""
    return host.translate(_DOTS).rstrip(".")


@lru_cache(maxsize=4096)
def _outlet_from_host(host: str) -> str:
    """The outlet name for a host: known name, registered domain, else the bare host."""
    labels = host.split(".")
    for i in range(len(labels) - 1):
        if outlet := OUTLETS.get(".".join(labels[i:])):
            return outlet
    domain = _registered_domain(host)
    return _one_line(_readable(domain) if domain else _bare(host)) or UNKNOWN


def _registered_domain(host: str) -> str | None:
    """The host's registered domain (a.b.com.tw -> b.com.tw); None for an IP address, a
    public suffix, a name under no listed suffix (`localhost`, `intranet.lan`) or a host
    too long to be a DNS name."""
    if len(host) > MAX_HOST or _is_ip(host):
        return None
    return _suffix_list().privatesuffix(host, accept_unknown=False)


def _is_ip(host: str) -> bool:
    """True for an IPv4/IPv6 address or a dotted host ending in digits (no TLD is numeric)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return ":" in host or host.rpartition(".")[2].isdigit()
    return True


def _bare(host: str) -> str:
    """The host itself, without a leading `www.`."""
    return host[4:] if host.startswith("www.") and len(host) > 4 else host


def _readable(domain: str) -> str:
    """`domain` with each punycode label (`xn--...`) as Unicode where that reads as text."""
    return ".".join(_unicode_label(label) for label in domain.split("."))


def _unicode_label(label: str) -> str:
    """A punycode label decoded, or the label as it is when not readable decoded."""
    if not label.startswith("xn--") or len(label) > 63:
        return label
    try:
        text = label[4:].encode("ascii").decode("punycode").lower()
    except ValueError:  # UnicodeError: not ASCII, or not valid punycode
        return label
    readable = (not text.isascii() and text.isprintable()
                and not any(ch in _NOT_IN_LABEL or ch.isspace() for ch in text))
    return text if readable else label


@lru_cache(maxsize=1)
def _suffix_list() -> PublicSuffixList:
    """The Public Suffix List the package ships (read from disk once, never downloaded)."""
    return PublicSuffixList()
