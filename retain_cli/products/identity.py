"""Which order lines are the same product.

A line is its product by SKU, else by its name, normalised (case, spaces) and without the
variant Shopify appends after `` - `` ("Coffee beans - 250g" and "Coffee beans - 1kg" are one
product, "Coffee beans"). Lines that share a SKU or a normalised name are one product, so a
product renamed under the same SKU, or sold under several SKUs (one per variant) with one
name, stays one product. Its key is the normalised name (the SKU when it has no name), its
display name the most sold spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_SPACES = re.compile(r"\s+")
VARIANT_SEPARATOR = " - "


def normalise(name: str | None) -> str:
    """``"  Sourdough   LOAF "`` -> ``"sourdough loaf"``."""
    return _SPACES.sub(" ", name or "").strip().casefold()


def family(name: str | None) -> str:
    """The product a line's name belongs to, as written: ``"Coffee beans - 1kg"`` ->
    ``"Coffee beans"`` (the name itself when it shows no variant)."""
    text = _SPACES.sub(" ", name or "").strip()
    head, separator, tail = text.rpartition(VARIANT_SEPARATOR)
    return head.strip() if separator and head.strip() and tail.strip() else text


@dataclass(slots=True)
class Catalogue:
    """Products found in a set of (SKU, name) pairs."""

    keys: list[str] = field(default_factory=list)  # per product: its stable key
    names: list[str] = field(default_factory=list)  # per product: its display name
    skus: list[list[str]] = field(default_factory=list)  # per product: its SKUs, most sold first
    by_sku: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)  # normalised family -> product

    def product_of(self, sku: str | None, name: str | None) -> int | None:
        """The product of a line, or None for one this catalogue has not seen."""
        sku = (sku or "").strip()
        if sku and sku in self.by_sku:
            return self.by_sku[sku]
        return self.by_name.get(normalise(family(name)))

    def find(self, text: str) -> int | None:
        """The product a person means: a SKU, a name or a key (any case)."""
        text = text.strip()
        if text in self.by_sku:
            return self.by_sku[text]
        found = self.by_name.get(normalise(family(text)))
        if found is None:
            found = self.by_name.get(normalise(text))
        return found


def build_catalogue(pairs: Iterable[tuple[str, str, int]]) -> tuple[Catalogue, list[int]]:
    """Products from distinct (sku, name, lines) triples; also each triple's product index
    (-1 for a line with neither SKU nor name)."""
    triples = list(pairs)
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    nodes: list[tuple[str | None, str | None]] = []
    for sku, name, _ in triples:
        sku_node = f"s:{sku.strip()}" if sku and sku.strip() else None
        fam = normalise(family(name))
        name_node = f"n:{fam}" if fam else None
        for node in (sku_node, name_node):
            if node is not None:
                parent.setdefault(node, node)
        if sku_node and name_node:
            a, b = root(sku_node), root(name_node)
            if a != b:
                parent[max(a, b)] = min(a, b)
        nodes.append((sku_node, name_node))
    groups: dict[str, int] = {}
    index: list[int] = []
    spellings: list[dict[str, int]] = []
    sku_counts: list[dict[str, int]] = []
    catalogue = Catalogue()
    for (sku_node, name_node), (_, name, lines) in zip(nodes, triples, strict=True):
        node = name_node or sku_node
        if node is None:
            index.append(-1)
            continue
        top = root(node)
        number = groups.get(top)
        if number is None:
            number = groups[top] = len(groups)
            spellings.append({})
            sku_counts.append({})
        index.append(number)
        if name_node:
            text = family(name)
            spellings[number][text] = spellings[number].get(text, 0) + lines
            catalogue.by_name[name_node[2:]] = number
        if sku_node:
            sku = sku_node[2:]
            sku_counts[number][sku] = sku_counts[number].get(sku, 0) + lines
            catalogue.by_sku[sku] = number
    for number in range(len(groups)):
        skus = sorted(sku_counts[number], key=lambda s: (-sku_counts[number][s], s))
        if spellings[number]:
            name = min(spellings[number], key=lambda s: (-spellings[number][s], s))
            key = normalise(name)
        else:
            name = key = skus[0]
        catalogue.keys.append(key)
        catalogue.names.append(name)
        catalogue.skus.append(skus)
    return catalogue, index
