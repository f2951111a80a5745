"""One check of ``retain doctor``: its name, ``ok``, ``fail`` or ``skip``, what was found, and
the fix when it failed."""

from __future__ import annotations

from dataclasses import dataclass

OK, FAIL, SKIP = "ok", "fail", "skip"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""
