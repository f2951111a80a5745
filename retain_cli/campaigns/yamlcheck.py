"""Checking the values of a YAML file read with ``yaml.safe_load``: each helper takes the
value, where it is (:class:`Where`: the file, the campaign, the key) and returns it typed, or
raises a :class:`ConfigError` that names the file, the campaign and the key."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from retain_cli.errors import ConfigError


class Where:
    """Where in the file a value is, for error messages."""

    def __init__(self, path: Path, campaign: str | None = None) -> None:
        self.path = path
        self.campaign = campaign

    def error(self, key: str | None, message: str) -> ConfigError:
        parts = [str(self.path)]
        if self.campaign:
            parts.append(f"campaign {self.campaign}")
        if key:
            parts.append(f"key {key!r}")
        return ConfigError(": ".join([*parts, message]))

    def in_campaign(self, label: str) -> Where:
        return Where(self.path, label)


#: keys people may look for in the campaign file that live elsewhere, and where
ELSEWHERE = {
    "program_holdout": "the program holdout is a shop setting kept in the database (who is "
    "held out is recorded there, so every campaign file and the report agree): remove it "
    "here and run 'retain config set program_holdout 5%'",
}


def check_keys(
    data: Mapping[str, Any],
    allowed: tuple[str, ...],
    where: Where,
    prefix: str,
    *,
    elsewhere: Mapping[str, str] = ELSEWHERE,
    listed_as: str = "allowed here",
) -> None:
    """Refuse the first key of ``data`` not in ``allowed`` (``elsewhere``: keys that belong
    in another place, and where), naming the closest allowed key and listing them all."""
    for key in data:
        if isinstance(key, str) and key in elsewhere and key not in allowed:
            raise where.error(f"{prefix}{key}", elsewhere[key])
        if not isinstance(key, str) or key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
            raise where.error(
                f"{prefix}{key}",
                f"unknown key; {did_you_mean}{listed_as}: {', '.join(allowed)}",
            )


def find_password(data: Any, trail: str) -> str | None:
    """The dotted path of the first key that looks like a password, if any."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            name = str(key)
            lowered = name.lower()
            if ("password" in lowered or lowered in ("pass", "passwd", "secret")) and (
                lowered not in ("password_env",)
            ):
                return f"{trail}{name}"
            found = find_password(value, f"{trail}{name}.")
            if found:
                return found
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found = find_password(item, f"{trail}{i}.")
            if found:
                return found
    return None


def as_mapping(value: Any, where: Where, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error(key, f"must be a mapping of keys, not {kind_of(value)}")
    return value


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty"
    return type(value).__name__


def as_text(value: Any, where: Where, key: str, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise where.error(key, "is required")
        return None
    if not isinstance(value, str):
        raise where.error(key, f"must be text, not {kind_of(value)}")
    return value.strip()


def as_email(value: Any, where: Where, key: str, *, required: bool) -> str | None:
    text = as_text(value, where, key, required=required)
    if text is None:
        return None
    if "\n" in text or "\r" in text:
        raise where.error(key, "must be on one line")
    _name, addr = parseaddr(text)
    if not addr or not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", addr):
        raise where.error(
            key,
            f"{text!r} is not an e-mail address; write it as "
            '"Shop Name <hello@shop.example>" or hello@shop.example',
        )
    return text


def as_int(
    value: Any, where: Where, key: str, *, minimum: int = 0, maximum: int | None = None
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(key, f"must be a whole number, not {kind_of(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise where.error(key, f"must be at least {minimum}{upper}, not {value}")
    return value


def as_number(value: Any, where: Where, key: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.error(key, f"must be a number, not {kind_of(value)}")
    if value < minimum:
        raise where.error(key, f"must be at least {minimum:g}, not {value}")
    return float(value)


def path_from(text: str, base: Path) -> Path:
    """A path written in the file: ``~`` is the home folder, and a relative path is taken
    from ``base`` (the file's folder)."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
