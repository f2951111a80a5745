"""retain: retention toolkit for small shops (library API; the CLI is in ``retain_cli.cli``)."""

from __future__ import annotations

__version__ = "0.1.0"

from retain_cli.errors import RetainError
from retain_cli.store import Store

__all__ = ["RetainError", "Store", "__version__"]
