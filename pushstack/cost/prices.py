"""The dated price snapshot shipped with pushstack (``prices.json``), read once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class Price:
    """One list price: ``usd`` per ``unit`` in a region, and where it was read when."""

    region: str
    item: str
    usd: float
    unit: str
    source: str
    date: str


@dataclass(frozen=True)
class Snapshot:
    as_of: str
    currency: str
    prices: dict[tuple[str, str], Price]

    def regions(self) -> frozenset[str]:
        return frozenset(region for region, _ in self.prices)

    def get(self, region: str, item: str) -> Price | None:
        return self.prices.get((region, item))


def parse(data: dict) -> Snapshot:
    prices = {}
    for line in data["prices"]:
        price = Price(
            region=line["region"],
            item=line["item"],
            usd=float(line["usd"]),
            unit=line["unit"],
            source=line["source"],
            date=line["date"],
        )
        prices[price.region, price.item] = price
    return Snapshot(as_of=data["as_of"], currency=data["currency"], prices=prices)


@cache
def snapshot(path: Path = SNAPSHOT) -> Snapshot:
    """The snapshot at ``path`` (the shipped one by default)."""
    return parse(json.loads(Path(path).read_text()))
