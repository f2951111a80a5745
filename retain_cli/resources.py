"""The example files retain ships (campaign file, segments file and message templates), and
where they are.

In a source or editable checkout the examples are at the repository root
(``campaigns.example.yaml``, ``segments.example.yaml`` and ``templates/*.j2``). A wheel
installs them as data files under ``<prefix>/share/retain/`` (see
``[tool.setuptools.data-files]`` in pyproject.toml), which is looked at second.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

EXAMPLE_CAMPAIGNS = "campaigns.example.yaml"
EXAMPLE_SEGMENTS = "segments.example.yaml"
SEGMENTS_NAME = "segments.yaml"
TEMPLATES_DIR = "templates"
DB_NAME = "retain.db"
CONFIG_NAME = "campaigns.yaml"


def resource_roots() -> list[Path]:
    """Folders that may hold the examples, most specific first (duplicates removed)."""
    roots = []
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists():  # a source or editable checkout, not site-packages
        roots.append(checkout)
    prefixes = [sys.prefix, sysconfig.get_path("data"), site.getuserbase()]
    roots += [Path(prefix) / "share" / "retain" for prefix in prefixes if prefix]
    return list(dict.fromkeys(roots))


def _root_with(name: str) -> Path | None:
    for root in resource_roots():
        if (root / name).exists():
            return root
    return None


def example_campaigns() -> Path | None:
    """The bundled ``campaigns.example.yaml``, or None if this install has none."""
    root = _root_with(EXAMPLE_CAMPAIGNS)
    return None if root is None else root / EXAMPLE_CAMPAIGNS


def example_segments() -> Path | None:
    """The bundled ``segments.example.yaml``, or None if this install has none."""
    root = _root_with(EXAMPLE_SEGMENTS)
    return None if root is None else root / EXAMPLE_SEGMENTS


def template_files() -> list[Path]:
    """The bundled message templates (``templates/*.j2``), sorted by name."""
    for root in resource_roots():
        folder = root / TEMPLATES_DIR
        files = sorted(p for p in folder.glob("*.j2") if p.is_file()) if folder.is_dir() else []
        if files:
            return files
    return []
