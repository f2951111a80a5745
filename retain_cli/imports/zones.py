"""Time zone names as exports write them -> :class:`zoneinfo.ZoneInfo`.

Square (like every Rails application) names zones the ActiveSupport way: ``Eastern Time (US &
Canada)``, ``London``, ``Sydney``. Those names are mapped to their IANA zones here; IANA
names themselves (``Europe/Berlin``) and ``UTC`` are read as they are.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retain_cli.imports.dates import Dates

#: ActiveSupport::TimeZone names -> IANA zones
RAILS_ZONES: dict[str, str] = {
    "International Date Line West": "Etc/GMT+12",
    "American Samoa": "Pacific/Pago_Pago",
    "Midway Island": "Pacific/Midway",
    "Hawaii": "Pacific/Honolulu",
    "Alaska": "America/Juneau",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Tijuana": "America/Tijuana",
    "Arizona": "America/Phoenix",
    "Mazatlan": "America/Mazatlan",
    "Mountain Time (US & Canada)": "America/Denver",
    "Central America": "America/Guatemala",
    "Central Time (US & Canada)": "America/Chicago",
    "Chihuahua": "America/Chihuahua",
    "Guadalajara": "America/Mexico_City",
    "Mexico City": "America/Mexico_City",
    "Monterrey": "America/Monterrey",
    "Saskatchewan": "America/Regina",
    "Bogota": "America/Bogota",
    "Eastern Time (US & Canada)": "America/New_York",
    "Indiana (East)": "America/Indiana/Indianapolis",
    "Lima": "America/Lima",
    "Quito": "America/Lima",
    "Atlantic Time (Canada)": "America/Halifax",
    "Caracas": "America/Caracas",
    "Georgetown": "America/Guyana",
    "La Paz": "America/La_Paz",
    "Puerto Rico": "America/Puerto_Rico",
    "Santiago": "America/Santiago",
    "Newfoundland": "America/St_Johns",
    "Brasilia": "America/Sao_Paulo",
    "Buenos Aires": "America/Argentina/Buenos_Aires",
    "Montevideo": "America/Montevideo",
    "Greenland": "America/Godthab",
    "Mid-Atlantic": "Atlantic/South_Georgia",
    "Azores": "Atlantic/Azores",
    "Cape Verde Is.": "Atlantic/Cape_Verde",
    "Casablanca": "Africa/Casablanca",
    "Dublin": "Europe/Dublin",
    "Edinburgh": "Europe/London",
    "Lisbon": "Europe/Lisbon",
    "London": "Europe/London",
    "Monrovia": "Africa/Monrovia",
    "UTC": "Etc/UTC",
    "Amsterdam": "Europe/Amsterdam",
    "Belgrade": "Europe/Belgrade",
    "Berlin": "Europe/Berlin",
    "Bern": "Europe/Zurich",
    "Bratislava": "Europe/Bratislava",
    "Brussels": "Europe/Brussels",
    "Budapest": "Europe/Budapest",
    "Copenhagen": "Europe/Copenhagen",
    "Ljubljana": "Europe/Ljubljana",
    "Madrid": "Europe/Madrid",
    "Paris": "Europe/Paris",
    "Prague": "Europe/Prague",
    "Rome": "Europe/Rome",
    "Sarajevo": "Europe/Sarajevo",
    "Skopje": "Europe/Skopje",
    "Stockholm": "Europe/Stockholm",
    "Vienna": "Europe/Vienna",
    "Warsaw": "Europe/Warsaw",
    "West Central Africa": "Africa/Algiers",
    "Zagreb": "Europe/Zagreb",
    "Zurich": "Europe/Zurich",
    "Athens": "Europe/Athens",
    "Bucharest": "Europe/Bucharest",
    "Cairo": "Africa/Cairo",
    "Harare": "Africa/Harare",
    "Helsinki": "Europe/Helsinki",
    "Jerusalem": "Asia/Jerusalem",
    "Kaliningrad": "Europe/Kaliningrad",
    "Kyiv": "Europe/Kiev",
    "Pretoria": "Africa/Johannesburg",
    "Riga": "Europe/Riga",
    "Sofia": "Europe/Sofia",
    "Tallinn": "Europe/Tallinn",
    "Vilnius": "Europe/Vilnius",
    "Baghdad": "Asia/Baghdad",
    "Istanbul": "Europe/Istanbul",
    "Kuwait": "Asia/Kuwait",
    "Minsk": "Europe/Minsk",
    "Moscow": "Europe/Moscow",
    "Nairobi": "Africa/Nairobi",
    "Riyadh": "Asia/Riyadh",
    "St. Petersburg": "Europe/Moscow",
    "Volgograd": "Europe/Volgograd",
    "Tehran": "Asia/Tehran",
    "Abu Dhabi": "Asia/Muscat",
    "Baku": "Asia/Baku",
    "Muscat": "Asia/Muscat",
    "Samara": "Europe/Samara",
    "Tbilisi": "Asia/Tbilisi",
    "Yerevan": "Asia/Yerevan",
    "Kabul": "Asia/Kabul",
    "Almaty": "Asia/Almaty",
    "Astana": "Asia/Almaty",
    "Ekaterinburg": "Asia/Yekaterinburg",
    "Islamabad": "Asia/Karachi",
    "Karachi": "Asia/Karachi",
    "Tashkent": "Asia/Tashkent",
    "Chennai": "Asia/Kolkata",
    "Kolkata": "Asia/Kolkata",
    "Mumbai": "Asia/Kolkata",
    "New Delhi": "Asia/Kolkata",
    "Sri Jayawardenepura": "Asia/Colombo",
    "Kathmandu": "Asia/Kathmandu",
    "Dhaka": "Asia/Dhaka",
    "Urumqi": "Asia/Urumqi",
    "Rangoon": "Asia/Rangoon",
    "Bangkok": "Asia/Bangkok",
    "Hanoi": "Asia/Bangkok",
    "Jakarta": "Asia/Jakarta",
    "Krasnoyarsk": "Asia/Krasnoyarsk",
    "Novosibirsk": "Asia/Novosibirsk",
    "Beijing": "Asia/Shanghai",
    "Chongqing": "Asia/Chongqing",
    "Hong Kong": "Asia/Hong_Kong",
    "Irkutsk": "Asia/Irkutsk",
    "Kuala Lumpur": "Asia/Kuala_Lumpur",
    "Perth": "Australia/Perth",
    "Singapore": "Asia/Singapore",
    "Taipei": "Asia/Taipei",
    "Ulaanbaatar": "Asia/Ulaanbaatar",
    "Osaka": "Asia/Tokyo",
    "Sapporo": "Asia/Tokyo",
    "Seoul": "Asia/Seoul",
    "Tokyo": "Asia/Tokyo",
    "Yakutsk": "Asia/Yakutsk",
    "Adelaide": "Australia/Adelaide",
    "Darwin": "Australia/Darwin",
    "Brisbane": "Australia/Brisbane",
    "Canberra": "Australia/Melbourne",
    "Guam": "Pacific/Guam",
    "Hobart": "Australia/Hobart",
    "Melbourne": "Australia/Melbourne",
    "Port Moresby": "Pacific/Port_Moresby",
    "Sydney": "Australia/Sydney",
    "Vladivostok": "Asia/Vladivostok",
    "Magadan": "Asia/Magadan",
    "New Caledonia": "Pacific/Noumea",
    "Solomon Is.": "Pacific/Guadalcanal",
    "Srednekolymsk": "Asia/Srednekolymsk",
    "Auckland": "Pacific/Auckland",
    "Fiji": "Pacific/Fiji",
    "Kamchatka": "Asia/Kamchatka",
    "Marshall Is.": "Pacific/Majuro",
    "Wellington": "Pacific/Auckland",
    "Chatham Is.": "Pacific/Chatham",
    "Nuku'alofa": "Pacific/Tongatapu",
    "Samoa": "Pacific/Apia",
    "Tokelau Is.": "Pacific/Fakaofo",
}

_BY_LOWER = {name.lower(): zone for name, zone in RAILS_ZONES.items()}


@cache
def zone_named(name: str) -> tzinfo:
    """The zone an export names (``Eastern Time (US & Canada)``, ``Europe/Berlin``, ``UTC``);
    ValueError when it is none of those."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = " ".join(name.split())
    key = _BY_LOWER.get(text.lower(), text)
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; pass --timezone with its name, e.g. "
            "--timezone America/New_York, to read the file's times in it"
        ) from None


#: a time of day written with AM or PM at the end of a date and time
_MERIDIEM = re.compile(r"(.*\s)(\d{1,2})(:\d{2}(?::\d{2})?)\s*([AaPp])\.?[Mm]\.?")


def parse_zoned(dates: Dates, text: str) -> str:
    """``DATE TIME\x1fZONE`` (a date, its time of day, and the zone the row names) ->
    stored UTC text; a blank zone is the import's (--timezone)."""
    moment, _, name = text.rpartition("\x1f")
    match = _MERIDIEM.fullmatch(moment)
    if match is not None:  # 2:30:00 PM -> 14:30:00 (year-first dates take no AM/PM)
        hour = int(match[2])
        if not 1 <= hour <= 12:
            raise ValueError(f"cannot read time in {moment!r}")
        hour = hour % 12 + (12 if match[4].upper() == "P" else 0)
        moment = f"{match[1]}{hour:02d}{match[3]}"
    return dates.parse(moment.strip(), zone=zone_named(name) if name.strip() else None)
