"""Times as a Persian reader expects them: the Solar Hijri (Jalali) calendar, Persian digits, Tehran time.

The calendar arithmetic is the published jalaali algorithm (Borkowski's break years, as in jalaali-js):
exact for the years 1-3177 of the calendar, no table of leap years to maintain.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
# Years of the Jalali calendar where the 33-year leap cycle is broken.
_BREAKS = (-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324, 2394)
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
TEHRAN = ZoneInfo("Asia/Tehran")


def persian_digits(value: object) -> str:
    """The value's text with ASCII digits written as Persian ones (for the numbers the board itself shows;
    the posts' own text keeps the digits it has); a decimal point between digits becomes the Persian one."""
    return _DECIMAL_POINT.sub("٫", str(value)).translate(PERSIAN_DIGITS)


def _div(a: int, b: int) -> int:
    return int(a / b)  # truncation toward zero, as the algorithm is specified


def _mod(a: int, b: int) -> int:
    return a - _div(a, b) * b


def _year_start(jalali_year: int) -> tuple[int, int]:
    """(years since the last leap year, 0 when ``jalali_year`` is leap; the March day of Farvardin 1)."""
    gregorian_year = jalali_year + 621
    leap_jalali = -14
    previous = _BREAKS[0]
    jump = 0
    for current in _BREAKS[1:]:
        jump = current - previous
        if jalali_year < current:
            break
        leap_jalali += _div(jump, 33) * 8 + _div(_mod(jump, 33), 4)
        previous = current
    years = jalali_year - previous
    leap_jalali += _div(years, 33) * 8 + _div(_mod(years, 33) + 3, 4)
    if _mod(jump, 33) == 4 and jump - years == 4:
        leap_jalali += 1
    leap_gregorian = _div(gregorian_year, 4) - _div((_div(gregorian_year, 100) + 1) * 3, 4) - 150
    march = 20 + leap_jalali - leap_gregorian
    if jump - years < 6:
        years = years - jump + _div(jump + 4, 33) * 33
    leap = _mod(_mod(years + 1, 33) - 1, 4)
    return (4 if leap == -1 else leap), march


def to_jalali(day: date) -> tuple[int, int, int]:
    """(year, month 1-12, day) in the Solar Hijri calendar."""
    year = day.year - 621
    leap, march = _year_start(year)
    offset = day.toordinal() - date(day.year, 3, march).toordinal()
    if offset >= 0:
        if offset <= 185:
            return year, 1 + offset // 31, offset % 31 + 1
        offset -= 186
    else:
        year -= 1
        offset += 179
        if leap == 1:
            offset += 1
    return year, 7 + offset // 30, offset % 30 + 1


def persian_datetime(moment: datetime, zone: ZoneInfo = TEHRAN, with_date: bool = True) -> str:
    """E.g. ``۱۰ آذر ۱۴۰۵، ۱۴:۳۵`` (or only the time)."""
    local = moment.astimezone(zone)
    clock = persian_digits(local.strftime("%H:%M"))
    if not with_date:
        return clock
    year, month, day = to_jalali(local.date())
    return f"{persian_digits(day)} {MONTHS[month - 1]} {persian_digits(year)}، {clock}"
