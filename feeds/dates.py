"""Dates as Vietnamese feeds write them, parsed from the raw string.

feedparser's *_parsed fields are not enough: it drops a "+07" zone, and reads "9/14/2026 6:44:00 PM"
(Báo Chính phủ) or "14/09/2026 18:44" wrongly or not at all. Forms handled here:
RFC 822 with "+0700", "+07:00", "+07", "GMT", names, or a two-digit year (Thanh Niên);
ISO 8601; "M/D/YYYY h:mm:ss AM|PM" (US order when AM/PM is given); "DD/MM/YYYY HH:MM" and
"HH:MM DD/MM/YYYY" (Vietnamese order otherwise). A date with no zone is local time (TIMEZONE).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_MONTHS = {
    name: number
    for number, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")],
        start=1,
    )
    for name in names
}
# Zone names that turn up in feeds; anything else unknown is treated as "no zone".
_ZONE_NAMES = {
    "z": 0, "ut": 0, "utc": 0, "gmt": 0, "ict": 7 * 60,
    "est": -5 * 60, "edt": -4 * 60, "cst": -6 * 60, "cdt": -5 * 60,
    "mst": -7 * 60, "mdt": -6 * 60, "pst": -8 * 60, "pdt": -7 * 60,
}

_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(.*)$"
)
_RFC822 = re.compile(
    r"(\d{1,2})[\s-]+([A-Za-z]{3,9})\.?,?[\s-]+(\d{4}|\d{2})"
    r"(?:[\sT,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(.*)$"
)
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})(?!\d)")
_TIME = re.compile(
    r"(?<!\d)(\d{1,2})[:h](\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?!\d)\s*([AaPp])?(?:\.?[Mm]\.?)?"
)
_OFFSET = re.compile(r"(?:\b(?:gmt|utc|ut))?\s*([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)", re.I)
_ZONE_NAME = re.compile(r"\b([A-Za-z]{1,4})\b")

# An item cannot be published much after we fetched it; a later date is a misreading.
_FUTURE_SLACK = timedelta(days=1)


def _zone(rest: str, default: tzinfo) -> tzinfo:
    """The zone written after the time: "+07", "+0700", "+07:00", "GMT+7", "GMT", "Z"..."""
    rest = rest.strip().lstrip("(").strip()
    if not rest:
        return default
    offset = _OFFSET.match(rest)
    if offset:
        sign, hours, minutes = offset.groups()
        total = int(hours) * 60 + int(minutes or 0)
        if total > 14 * 60:
            return default
        return timezone(timedelta(minutes=-total if sign == "-" else total))
    name = _ZONE_NAME.match(rest)
    if name and name.group(1).lower() in _ZONE_NAMES:
        return timezone(timedelta(minutes=_ZONE_NAMES[name.group(1).lower()]))
    return default


def _year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:
        year += 2000 if year < 70 else 1900
    return year


def _make(year: int, month: int, day: int, hour: int, minute: int, second: int,
          zone: tzinfo) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=zone)
    except ValueError:
        return None


def _hour_12(hour: int, meridiem: str | None) -> int:
    if not meridiem:
        return hour
    if meridiem.lower() == "p":
        return hour if hour == 12 else hour + 12
    return 0 if hour == 12 else hour


def _parse_iso(match: re.Match[str], local: tzinfo) -> datetime | None:
    year, month, day, hour, minute, second, rest = match.groups()
    return _make(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                 int(second or 0), _zone(rest, local))


def _parse_rfc822(match: re.Match[str], local: tzinfo) -> datetime | None:
    day, month_name, year, hour, minute, second, rest = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    zone = _zone(rest, local) if hour is not None else local
    return _make(_year(year), month, int(day), int(hour or 0), int(minute or 0),
                 int(second or 0), zone)


def _parse_numeric(text: str, local: tzinfo, now: datetime | None) -> datetime | None:
    date = _NUMERIC_DATE.search(text)
    if not date:
        return None
    first, second, third = date.groups()
    # The time may come before the date ("18:44 14/09/2026") or after it.
    time = _TIME.search(text, date.end()) or _TIME.search(text[: date.start()])
    hour = minute = sec = 0
    meridiem = None
    zone = local
    if time:
        hour, minute, sec = int(time.group(1)), int(time.group(2)), int(time.group(3) or 0)
        meridiem = time.group(4)
        hour = _hour_12(hour, meridiem)
        if time.start() > date.start():
            zone = _zone(text[time.end():], local)
    if len(first) == 4:  # YYYY/MM/DD
        return _make(int(first), int(second), int(third), hour, minute, sec, zone)
    a, b, year = int(first), int(second), _year(third)
    # US order when the writer used AM/PM (Báo Chính phủ), Vietnamese day/month otherwise;
    # a number above 12 settles it either way.
    us_order = bool(meridiem) and a <= 12 or b > 12
    month, day = (a, b) if us_order else (b, a)
    parsed = _make(year, month, day, hour, minute, sec, zone)
    if parsed and now and parsed > now + _FUTURE_SLACK and day <= 12:
        swapped = _make(year, day, month, hour, minute, sec, zone)
        if swapped and swapped <= now + _FUTURE_SLACK:
            return swapped
    return parsed if parsed else _make(year, day, month, hour, minute, sec, zone)


def parse_date(raw: str | None, local: tzinfo, now: datetime | None = None) -> datetime | None:
    """The moment `raw` names, in UTC, or None when it names none we can read."""
    text = (raw or "").strip()
    if not text:
        return None
    match = _ISO.match(text)
    if match:
        parsed = _parse_iso(match, local)
    elif (match := _RFC822.search(text)) and match.group(2).lower() in _MONTHS:
        parsed = _parse_rfc822(match, local)
    else:
        parsed = _parse_numeric(text, local, now)
    return parsed.astimezone(UTC) if parsed else None


def published_at(raw: str | None, local: tzinfo, fetched_at: datetime) -> tuple[datetime, bool]:
    """When an item was published, in UTC, and whether the source said so: the fetch time stands
    in when it gave no date we can trust (missing, unreadable, or more than a day ahead)."""
    parsed = parse_date(raw, local, fetched_at)
    if parsed is None or parsed > fetched_at + _FUTURE_SLACK:
        return fetched_at.astimezone(UTC), False
    return parsed, True
