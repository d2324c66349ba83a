"""Feed dates as UTC, from the raw strings and feedparser's reading of them.

feedparser reads `CST` as US Central (-06:00) and misreads `2025年03月01日 08:30`, so the raw
`published`/`updated` strings are read here first. In a feed whose language starts with `zh`,
`CST` is China Standard Time and a date without a zone is UTC+8; elsewhere zoneless dates are
UTC and feedparser's reading of everything else stands. No global date handler is registered,
so other users of feedparser in the process are unaffected. An impossible date (before
1970-01-02, more than a day ahead, a zone offset beyond +/-14:00, a year the string does not
spell, or one at the ends of the calendar) leaves its item undated; the pipeline dates it later
(bot/feeds/dating.py).
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

CHINA_TZ = timezone(timedelta(hours=8), "CST")
US_CENTRAL_TZ = timezone(timedelta(hours=-6), "CST")
MAX_FUTURE = timedelta(days=1)
MIN_DATE = datetime(1970, 1, 2, tzinfo=UTC)  # earlier: the epoch as a placeholder, or nonsense
MAX_OFFSET = timedelta(hours=14)  # the widest real UTC offset (Kiribati)

# 2025-03-01 08:30:00, 2025/3/1 8:30, 2025年03月01日 08时30分, each with an optional zone.
_LOCAL_DATE_RE = re.compile(
    r"^\s*(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*(?P<h>\d{1,2})\s*[:时時]\s*(?P<mi>\d{1,2})"
    r"(?:\s*[:分]\s*(?P<s>\d{1,2})(?:\.\d+)?\s*秒?)?\s*分?)?"
    r"\s*(?P<tz>CST|UTC|GMT|Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_CST_RE = re.compile(r"\bCST\b", re.IGNORECASE)
_NUMERIC_ZONE_RE = re.compile(r"([+-])(\d{2}):?(\d{2})\s*$")
_DIGIT_RUN_RE = re.compile(r"\d{3,}")



def _zone(token: str | None, *, zh: bool) -> timezone:
    """The zone a date's zone token (or its absence) means in a zh or other feed."""
    token = (token or "").upper()
    if token == "CST":
        return CHINA_TZ if zh else US_CENTRAL_TZ
    if token in ("UTC", "GMT", "Z") or (not token and not zh):
        return UTC
    if not token:
        return CHINA_TZ
    sign = -1 if token[0] == "-" else 1
    digits = token[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _local_date(match: re.Match[str], *, zh: bool) -> datetime | None:
    """A datetime from a `_LOCAL_DATE_RE` match, or None when a field is out of range."""
    y, mo, d, h, mi, s = (int(match.group(g) or 0) for g in ("y", "mo", "d", "h", "mi", "s"))
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=_zone(match.group("tz"), zh=zh))
    except ValueError:
        return None


def _struct_to_datetime(parsed: time.struct_time | None) -> datetime | None:
    """feedparser's UTC 9-tuple as an aware datetime, or None."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_date(raw: str | None, parsed: time.struct_time | None = None, *,
               zh: bool = False) -> datetime | None:
    """A feed date string as UTC, given feedparser's reading of it; None if unreadable or
    impossible (see the module docstring)."""
    try:
        found = _read_date(raw, parsed, zh=zh)
        found = found.astimezone(UTC) if found is not None and found.tzinfo else None
    except (OverflowError, ValueError):  # a zone pushing a date off the calendar's ends
        return None
    return found if found is not None and _possible(raw, found) else None


def _read_date(raw: str | None, parsed: time.struct_time | None, *,
               zh: bool) -> datetime | None:
    """The date `raw` states (ours for Chinese forms and zh `CST`, else feedparser's)."""
    if raw and (match := _LOCAL_DATE_RE.match(raw)):
        return _local_date(match, zh=zh)
    if raw and zh and _CST_RE.search(raw):
        try:
            return parsedate_to_datetime(_CST_RE.sub("+0800", raw))
        except (TypeError, ValueError, IndexError):
            return None
    return _struct_to_datetime(parsed)


def _possible(raw: str | None, when: datetime) -> bool:
    """False for a date before MIN_DATE, with a zone offset no place has, or whose year the
    string does not spell (feedparser reads `-0001-01-01` as 2000, `01 Jan 0001` as 2001)."""
    if when < MIN_DATE:
        return False
    zone = _NUMERIC_ZONE_RE.search(raw or "")
    if zone is not None:
        offset = timedelta(hours=int(zone.group(2)), minutes=int(zone.group(3)))
        if offset > MAX_OFFSET or int(zone.group(3)) >= 60:
            return False
    runs = _DIGIT_RUN_RE.findall((raw or "")[:zone.start()] if zone else raw or "")
    years = [str(year) for year in (when.year - 1, when.year, when.year + 1)]
    return not runs or any(year in run for run in runs for year in years)


def published_time(entry: Any, *, zh: bool, now: datetime) -> datetime | None:
    """The entry's publication (else update) time in UTC; None if absent, bad or future."""
    for key in ("published", "updated"):  # dict.get: skip feedparser's updated->published alias
        when = parse_date(dict.get(entry, key), dict.get(entry, f"{key}_parsed"), zh=zh)
        if when is not None:
            return when if when <= now + MAX_FUTURE else None
    return None
