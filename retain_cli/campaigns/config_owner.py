"""The campaign file's keys that keep the owner in the loop, read for :mod:`.config`:
``approval: required`` (messages wait for a yes in ``retain queue``), ``survey: nps | csat``
(a survey campaign) and ``channel: task`` on a step (a task for the owner, not a message).
Errors name the key through the caller's ``error``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, cast

from retain_cli.campaigns.model import Survey, parse_interval
from retain_cli.errors import ConfigError

Error = Callable[[str | None, str], ConfigError]
SURVEY_KEYS = ("type", "fatigue", "form")
DEFAULT_FATIGUE_DAYS = 90
CHANNELS = ("email", "task")


def parse_approval(value: Any, error: Error) -> bool:
    """``approval: required`` -> True; ``none`` (or absent) -> False."""
    if value is None or value in ("none", False):
        return False
    if value in ("required", True):
        return True
    raise error("approval", f"must be required or none, not {value!r}")


def parse_channel(value: Any, error: Error, prefix: str) -> str:
    """A step's ``channel``: email (the default) or task."""
    if value is None:
        return "email"
    if value not in CHANNELS:
        raise error(
            f"{prefix}channel",
            f"must be email or task, not {value!r} (task: the step becomes a to-do for you, "
            "its subject the title and its template what to do)",
        )
    return cast(str, value)


def parse_survey(value: Any, error: Error) -> Survey | None:
    """``survey: nps`` / ``survey: csat`` / ``survey: {type: nps, fatigue: 90d, form: URL}``.

    ``form`` is a link into the owner's form tool with ``{token}`` (the recipient's signed
    token) and, for a link per score, ``{score}``; ``fatigue`` the time in which nobody gets a
    second survey (default 90d)."""
    if value is None:
        return None
    data: Mapping[str, Any]
    if isinstance(value, str):
        data = {"type": value}
    elif isinstance(value, Mapping):
        data = value
    else:
        raise error("survey", "write nps, csat, or {type: nps, fatigue: 90d, form: URL}")
    for key in data:
        if key not in SURVEY_KEYS:
            raise error(f"survey.{key}", f"unknown key; allowed here: {', '.join(SURVEY_KEYS)}")
    kind = data.get("type")
    if kind not in ("nps", "csat"):
        raise error(
            "survey.type" if isinstance(value, Mapping) else "survey",
            f"must be nps (0-10: how likely to recommend) or csat (1-5: how satisfied), "
            f"not {kind!r}",
        )
    fatigue = DEFAULT_FATIGUE_DAYS
    if data.get("fatigue") is not None:
        try:
            hours = parse_interval(data["fatigue"]).total_seconds() / 3600
        except ValueError as exc:
            raise error("survey.fatigue", str(exc)) from None
        if hours % 24:
            raise error("survey.fatigue", f"{data['fatigue']!r} is not a whole number of days")
        fatigue = int(hours // 24)
    form = data.get("form")
    if form is not None:
        if not isinstance(form, str) or not re.match(r"^https?://\S+$", form.strip()):
            raise error("survey.form", f"must be an http(s) link, not {form!r}")
        form = form.strip()
        if "{token}" not in form:
            raise error(
                "survey.form",
                "must hold {token} (each recipient's signed token, so an answer is matched "
                "to its message), e.g. https://forms.example/f?token={token}&score={score}",
            )
        unknown = set(re.findall(r"\{([^{}]*)\}", form)) - {"token", "score"}
        if unknown:
            raise error(
                "survey.form", f"knows {{token}} and {{score}} only, not {{{sorted(unknown)[0]}}}"
            )
    return Survey(kind=cast(Any, kind), fatigue_days=fatigue, form=form)


def check_owner_keys(survey: Survey | None, channels: list[str], error: Error) -> None:
    """Keys that do not go together: a survey is a message (no task steps)."""
    if survey is not None and "task" in channels:
        raise error("survey", "a survey campaign sends e-mail; it cannot have channel: task")
