"""Dates, precision windows and the two query times (as-of date, known-at instant).

Dates travel as ISO strings (`YYYY-MM-DD`) inside stored events, so ordering and
comparison are plain string comparisons in the hot fold path.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from .errors import BadQuery

Precision = Literal["day", "week", "month", "year"]
PRECISIONS: tuple[str, ...] = ("day", "week", "month", "year")

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: object) -> date:
    """A strict calendar date: a `date`, or a `YYYY-MM-DD` string; never a timestamp."""
    if isinstance(value, datetime):
        raise ValueError("expected a date (YYYY-MM-DD), got a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a real calendar date") from None
    raise ValueError(f"expected an ISO date YYYY-MM-DD, got {value!r}")


def window_start(day: date, precision: str) -> date:
    """The first day of the precision window that holds `day` (weeks start on Monday, ISO 8601)."""
    if precision == "week":
        return day - timedelta(days=day.weekday())
    if precision == "month":
        return day.replace(day=1)
    if precision == "year":
        return day.replace(month=1, day=1)
    return day


def window_end(day: date, precision: str) -> date:
    """The last day of the precision window that holds `day` (a week ends on Sunday)."""
    if precision == "week":
        return day + timedelta(days=6 - day.weekday())
    if precision == "month":
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return following - timedelta(days=1)
    if precision == "year":
        return day.replace(month=12, day=31)
    return day


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def describe_window(start: str | None, end: str | None) -> str:
    """A reader's phrase for a window: '10 June 2014', 'between 1 and 30 June 2014',
    'between 5 June and 23 July 2014', 'between 30 December 2013 and 5 January 2014'."""
    if not start or not end:
        return "unknown"
    a, b = date.fromisoformat(start), date.fromisoformat(end)
    if a == b:
        return f"{a.day} {_MONTHS[a.month - 1]} {a.year}"
    if a.year != b.year:
        return f"between {a.day} {_MONTHS[a.month - 1]} {a.year} and {b.day} {_MONTHS[b.month - 1]} {b.year}"
    if a.month != b.month:
        return f"between {a.day} {_MONTHS[a.month - 1]} and {b.day} {_MONTHS[b.month - 1]} {b.year}"
    return f"between {a.day} and {b.day} {_MONTHS[b.month - 1]} {b.year}"


def describe(day: str | None, precision: str | None) -> str:
    """A reader's phrase for a dated fact: '2014-06-10', 'week of 2014-07-14', 'June 2014', '2014'."""
    if not day:
        return "unknown"
    d = date.fromisoformat(day)
    if precision == "week":
        return f"week of {window_start(d, 'week').isoformat()}"
    if precision == "month":
        return d.strftime("%B %Y")
    if precision == "year":
        return str(d.year)
    return day


_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def parse_as_of(text: str | None, label: str = "--as-of") -> str | None:
    """An as-of query date, returned as its ISO string. `YYYY-MM` and `YYYY` mean the last
    day of that month or year. `label` names the option or field."""
    if text is None or text == "":
        return None
    example = "--as-of 2014-06-20" if label.startswith("--") else f'"{label}": "2014-06-20"'
    short = _YEAR_MONTH.match(text.strip()) if isinstance(text, str) else None
    if short:
        year, month = int(short[1]), int(short[2] or 12)
        if not 1 <= month <= 12 or year < 1:
            raise BadQuery(f"{label}: '{text}' is not a real month; for example {example}", field=label)
        return window_end(date(year, month, 1), "month").isoformat()
    try:
        return parse_date(text).isoformat()
    except ValueError as e:
        raise BadQuery(f"{label}: {e} (or YYYY-MM, YYYY for the end of a month or year); for example {example}",
                       field=label) from None


def parse_known_at(text: str | None, label: str = "--known-at") -> datetime | None:
    """A knowledge instant in UTC. A bare date means the end of that day: all known by then."""
    if text is None or text == "":
        return None
    text = text.strip()
    if _ISO_DATE.match(text):
        try:
            return end_of_day(date.fromisoformat(text))
        except ValueError:
            raise BadQuery(f"{label}: '{text}' is not a real calendar date", field=label) from None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        example = (f"{label} 2014-07-22 or {label} 2014-07-22T18:00:00Z" if label.startswith("--")
                   else f'"{label}": "2014-07-22" or "2014-07-22T18:00:00Z"')
        raise BadQuery(f"{label}: '{text}' is neither a date nor a date and time; for example {example}",
                       field=label) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # times without a zone are UTC, as stored
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise BadQuery(f"{label}: '{text}' is out of range once converted to UTC", field=label) from None


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
