"""The shop's own pairs: ``products.yaml``, read and validated.

    pairs:
      - bought: Sourdough loaf          # a product's name or SKU, as in the orders
        recommend: [Plum jam, Butter]   # one product or a list
        note: goes with a Sunday breakfast   # optional, shown by retain recommend

A pair here wins over the data: its products come first, whatever the orders say. Every
product must be one the orders know (a typo would otherwise recommend nothing, silently);
an error names the file, the line and the key.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retain_cli.errors import ConfigError
from retain_cli.products.identity import Catalogue

PRODUCTS_FILE = "products.yaml"
PAIR_KEYS = ("bought", "recommend", "note")


@dataclass(frozen=True, slots=True)
class CuratedPair:
    bought: int  # product index
    recommend: int
    note: str | None


def load_curated(path: Path, catalogue: Catalogue) -> dict[int, list[CuratedPair]]:
    """bought product -> its pairs, in file order; {} when the file does not exist."""
    if not path.exists():
        return {}
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML; check the indentation there") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or set(data) - {"pairs"}:
        extra = sorted(str(k) for k in (data if isinstance(data, dict) else {}) if k != "pairs")
        key = f" (unknown key {extra[0]!r})" if extra else ""
        raise ConfigError(f"{path} line 1: expected only the key 'pairs' with a list{key}")
    items = data.get("pairs") or []
    if not isinstance(items, list):
        raise ConfigError(f"{path} line {_line(node, 'pairs')}: key 'pairs': expected a list")
    out: dict[int, list[CuratedPair]] = {}
    for number, item in enumerate(items, start=1):
        line = _item_line(node, number - 1)

        def error(key: str, message: str, number: int = number) -> ConfigError:
            where = _item_line(node, number - 1, key)
            return ConfigError(f"{path} line {where}: key 'pairs[{number}].{key}': {message}")

        if not isinstance(item, dict):
            raise ConfigError(
                f"{path} line {line}: key 'pairs[{number}]': expected 'bought:' and 'recommend:'"
            )
        for key in item:
            if key not in PAIR_KEYS:
                hint = difflib.get_close_matches(str(key), PAIR_KEYS, n=1)
                did = f"did you mean {hint[0]!r}? " if hint else ""
                raise error(str(key), f"unknown key; {did}allowed: {', '.join(PAIR_KEYS)}")
        bought = _product(item.get("bought"), catalogue, lambda m: error("bought", m))
        wanted = item.get("recommend")
        names = wanted if isinstance(wanted, list) else [wanted]
        note = item.get("note")
        if note is not None and not isinstance(note, str):
            raise error("note", "expected text")
        for name in names:
            target = _product(name, catalogue, lambda m: error("recommend", m))
            if target == bought:
                raise error("recommend", f"{name!r} is the product bought itself")
            out.setdefault(bought, []).append(CuratedPair(bought, target, note))
    return out


def _product(value: Any, catalogue: Catalogue, error: Any) -> int:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise error("expected a product's name or SKU, such as Sourdough loaf")
    found = catalogue.find(str(value))
    if found is None:
        hint = difflib.get_close_matches(str(value), catalogue.names, n=1)
        did = f"did you mean {hint[0]!r}? " if hint else ""
        raise error(
            f"no product {str(value)!r} in the orders; {did}see 'retain products' for the names"
        )
    return found


def _line(node: Any, key: str) -> int:
    for name, value in getattr(node, "value", []):
        if getattr(name, "value", None) == key:
            return int(value.start_mark.line) + 1
    return 1


def _item_line(node: Any, index: int, key: str | None = None) -> int:
    """The line of the pair at ``index`` (of its ``key`` when it has it)."""
    for name, value in getattr(node, "value", []):
        listed = isinstance(value.value, list) and index < len(value.value)
        if getattr(name, "value", None) == "pairs" and listed:
            item = value.value[index]
            if key is not None and isinstance(item.value, list):
                for entry in item.value:
                    if isinstance(entry, tuple) and getattr(entry[0], "value", None) == key:
                        return int(entry[0].start_mark.line) + 1
            return int(item.start_mark.line) + 1
    return 1
