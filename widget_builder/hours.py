"""Business hours: when the team is around. Outside them the widget shows the offline
message (the bot still answers once the chat engine is connected)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from saas.errors import ValidationFailed

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


def business_hours_validate(value: Any) -> dict[str, Any]:
    """``{}`` (always open) or ``{"tz": ..., "days": {"mon": [["09:00", "17:00"]], ...}}``.

    Errors are keyed ``business_hours`` (the whole value, the time zone) or
    ``business_hours.<day>`` (that day's ranges), so an editor can show them on the day."""
    if not value:
        return {}

    def bad(message: str, day: str = "") -> ValidationFailed:
        key = f"business_hours.{day}" if day else "business_hours"
        return ValidationFailed(errors={key: [{"code": "invalid", "message": message}]})

    if not isinstance(value, dict):
        raise bad("Use an object with tz and days.")
    try:
        ZoneInfo(str(value.get("tz", "")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad("Give a time zone such as Europe/Berlin.") from exc
    days = value.get("days")
    if not isinstance(days, dict) or set(days) - set(DAYS):
        raise bad("days maps mon..sun to lists of [start, end] times.")
    normalized: dict[str, list[list[str]]] = {}
    for day, ranges in days.items():
        if not isinstance(ranges, list) or len(ranges) > 4:
            raise bad(f"{DAY_NAMES[day]}: give up to 4 ranges.", day)
        for pair in ranges:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(t, str) and _TIME.match(t) for t in pair)
                or pair[0] >= pair[1]
            ):
                raise bad(f"{DAY_NAMES[day]}: each range needs a start before end (times as HH:MM).", day)
        normalized[day] = ranges
    return {"tz": value["tz"], "days": normalized}


def is_open(hours: dict[str, Any], now: datetime | None = None) -> bool:
    if not hours:
        return True
    local = (now or timezone.now()).astimezone(ZoneInfo(hours["tz"]))
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in hours["days"].get(DAYS[local.weekday()], []))
