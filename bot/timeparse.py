"""Clock times, time ranges and durations as people type them, for every command and the CLI.

Input is folded with NFKC first, so full-width forms typed with a Chinese input method read
like ASCII: `７：３０` is `7:30`, `２３：００－０７：００` is `23:00-07:00`, `２ｈ` is `2h`.

- a clock time: `7:30`, `07:30` (24-hour; `7.30` and `7時` are not times);
- a range of two clock times: joined by `-`, `–`, `—`, `~`, `〜`, `至` or `到`, spaces allowed;
- a duration: a number (decimals allowed) and a unit: `s`, `m`/`min`, `h`/`hr`, `d`, `w`, their
  English words (`2 hours`, `1 day`), or Chinese (`30分钟`, `2小时`, `1天`, `1周`);
- a time zone: an IANA name in any case (`asia/shanghai` is `Asia/Shanghai`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_TIME_RE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_RANGE_RE = re.compile(r"\s*(\S+?)\s*(?:-|–|—|~|〜|至|到)\s*(\S+)\s*")
_DURATION_RE = re.compile(r"(\d{1,6}(?:\.\d{1,3})?)\s*([a-z]+|[\u4e00-\u9fff]+)")
UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "秒": 1, "秒钟": 1, "秒鐘": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "分": 60, "分钟": 60,
    "分鐘": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "小时": 3600,
    "小時": 3600, "钟头": 3600, "鐘頭": 3600,
    "d": 86_400, "day": 86_400, "days": 86_400, "天": 86_400, "日": 86_400,
    "w": 604_800, "wk": 604_800, "week": 604_800, "weeks": 604_800, "周": 604_800,
    "週": 604_800, "星期": 604_800,
}


def utc_now() -> datetime:
    """The wall clock in UTC: the clock App gives to everything that reads the time."""
    return datetime.now(UTC)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def clock_time(text: str) -> time | None:
    """`7:30`, `07:30`, `７：３０` -> 07:30; None unless it is a 24-hour time of day."""
    match = _TIME_RE.fullmatch(_folded(text))
    return time(int(match.group(1)), int(match.group(2))) if match else None


def time_range(text: str) -> tuple[time, time] | None:
    """`23:00-07:00`, `23：00－07：00`, `23:00 to 07:00`... -> (23:00, 07:00); None unless it
    is two clock times joined by a dash, a tilde, `至` or `到`. The range may pass midnight."""
    folded = _folded(text).replace(" to ", "-")
    match = _RANGE_RE.fullmatch(folded)
    if not match:
        return None
    start, end = clock_time(match.group(1)), clock_time(match.group(2))
    return (start, end) if start is not None and end is not None else None


def duration(text: str, *, maximum: timedelta | None = None) -> timedelta | None:
    """`30m`, `2h`, `1.5 hours`, `1天` -> timedelta; None if malformed, zero, or above
    `maximum`."""
    match = _DURATION_RE.fullmatch(_folded(text).lower())
    if not match or match.group(2) not in UNITS:
        return None
    length = timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])
    if length <= timedelta(0) or (maximum is not None and length > maximum):
        return None
    return length


def time_zone(name: str) -> str | None:
    """The canonical IANA name for `name` (any case), or None if there is no such zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return _zone_names().get(name.lower())
    return name


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {z.lower(): z for z in available_timezones()}
