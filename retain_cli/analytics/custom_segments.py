"""Custom segments: the segments file (segments.yaml), read and validated.

Each segment has a ``name``, a ``where`` rule in the filter language
(:mod:`retain_cli.analytics.filters`) and an optional ``description``; a customer belongs to
the first segment (in file order) whose rule they match (see
:func:`retain_cli.analytics.segments.assign_custom`). A custom segment may not take a
built-in segment's name (``champions``, ``at_risk`` ...), so that a name means one thing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from retain_cli.analytics.filters import Filter, compile_filter
from retain_cli.analytics.segment_names import reserved_problem
from retain_cli.errors import ConfigError

DEFAULT_SEGMENTS_FILE = Path("segments.yaml")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SEGMENT_KEYS = ("name", "where", "description")


@dataclass(frozen=True)
class CustomSegment:
    name: str
    where: str
    rule: Filter
    description: str = ""


def segments_path(path: Path | None = None) -> Path:
    """--segments, else $RETAIN_SEGMENTS, else ./segments.yaml."""
    if path is not None:
        return Path(path)
    env = os.environ.get("RETAIN_SEGMENTS")
    return Path(env) if env else DEFAULT_SEGMENTS_FILE


def load_custom_segments(path: Path | None = None, *, strict: bool = True) -> list[CustomSegment]:
    """Read and validate a segments file. With ``strict=False`` rules that do not compile are
    left out (``segments check`` reports them through :func:`custom_segment_problems`)."""
    import yaml

    file = segments_path(path)
    if not file.exists():
        raise ConfigError(
            f"no segments file at {file}; create one (see README: custom segments) "
            "or pass --segments PATH (or set RETAIN_SEGMENTS)"
        )
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise ConfigError(f"{file}: expected a top-level key 'segments' with a list of segments")
    unknown = [k for k in data if k != "segments"]
    if unknown:
        raise ConfigError(f"{file}: unknown top-level key {unknown[0]!r}; only 'segments'")
    out: list[CustomSegment] = []
    seen: set[str] = set()
    for number, item in enumerate(data["segments"], start=1):
        label = f"{file}, segment {number}"
        if not isinstance(item, dict):
            raise ConfigError(f"{label}: expected a mapping with 'name' and 'where'")
        name = item.get("name")
        if isinstance(name, str):
            label = f"{file}, segment {name!r}"
        for key in item:
            if key not in _SEGMENT_KEYS:
                raise ConfigError(
                    f"{label}: unknown key {key!r}; keys are {', '.join(_SEGMENT_KEYS)}"
                )
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(
                f"{label}: key 'name': use lower-case letters, digits and '_' "
                f"(such as big_spenders), got {name!r}"
            )
        reserved = reserved_problem(name)
        if reserved:
            raise ConfigError(f"{label}: key 'name': {reserved}")
        if name in seen:
            raise ConfigError(f"{label}: key 'name': {name!r} is defined twice")
        seen.add(name)
        where = item.get("where")
        if not isinstance(where, str) or not where.strip():
            raise ConfigError(f"{label}: key 'where': expected a rule such as \"orders >= 2\"")
        description = item.get("description") or ""
        if not isinstance(description, str):
            raise ConfigError(f"{label}: key 'description': expected text")
        try:
            rule = compile_filter(where, where=label)
        except ConfigError:
            if strict:
                raise
            continue
        out.append(CustomSegment(name, where, rule, description))
    return out


def custom_segment_errors(path: Path | None = None) -> list[tuple[str, str]]:
    """(segment, message) for every rule in the file that does not compile."""
    import yaml

    file = segments_path(path)
    load_custom_segments(file, strict=False)  # file-level problems raise here
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    problems = []
    for number, item in enumerate(data["segments"], start=1):
        name = str(item.get("name", f"segment {number}"))
        try:
            compile_filter(str(item.get("where")), where=f"{file}, segment {name!r}")
        except ConfigError as exc:
            problems.append((name, str(exc)))
    return problems
