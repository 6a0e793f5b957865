"""What Messages API traffic costs in US dollars, and what runs of a tool loop cost.

* :mod:`.rates`: a model's prices as USD per token of each kind (a :class:`RateCard`),
  and one response's cost by component;
* :mod:`.pricefile`: the user price file (YAML/JSON): overrides, added models, the
  code-execution container rate, validated whole with the line of each problem;
* :mod:`.book`: the :class:`PriceBook`: genai-prices' bundled data (Pydantic's maintained,
  offline price snapshot) with the price file on top, looked up once per model.

The observer prices every exchange from the same token facts it counts in
``ptc_tokens_total``; the emulator's ledger bills its traffic with the same book. Formulas,
sources and how to update or override the prices: docs/telemetry.md, "Cost".
genai-prices needs Python 3.11; on 3.10 the observer runs without prices.
"""

from __future__ import annotations

from .book import PRICE_FILE_ENV, ModelPrice, PriceBook, PriceSource
from .pricefile import (
    DEFAULT_CONTAINER,
    ContainerPrices,
    PriceFileError,
    load_price_file,
)
from .rates import ComponentCosts, RateCard, Rates, TokenCounts, rate_card

__all__ = [
    "DEFAULT_CONTAINER",
    "PRICE_FILE_ENV",
    "ComponentCosts",
    "ContainerPrices",
    "ModelPrice",
    "PriceBook",
    "PriceFileError",
    "PriceSource",
    "RateCard",
    "Rates",
    "TokenCounts",
    "load_price_file",
    "rate_card",
]
