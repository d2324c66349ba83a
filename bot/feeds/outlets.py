"""Which outlet a URL belongs to, for articles whose feed does not name one."""

from __future__ import annotations

from urllib.parse import urlsplit

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
    """The outlet for `url` by its host (voachinese.com -> VOA), or `unknown`."""
    if not url:
        return "unknown"
    host = (urlsplit(url).hostname or "").lower()
    labels = host.split(".")
    for i in range(len(labels) - 1):
        outlet = OUTLETS.get(".".join(labels[i:]))
        if outlet:
            return outlet
    return "unknown"
