"""The :class:`PriceBook`: genai-prices' bundled data with a user price file on top.

Prices are looked up once per model name (and UTC day: a price can change on a date) and
kept as a :class:`~.rates.RateCard`; pricing a response is then arithmetic. A model that
neither the price file nor genai-prices knows is *unpriced*, never guessed: the caller
counts its tokens as such. The file is read when the book is made and again only on an
explicit :meth:`PriceBook.reload`; a bad file raises :class:`~.pricefile.PriceFileError`
and leaves the prices in force untouched.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

from .pricefile import (
    DEFAULT_CONTAINER,
    ContainerPrices,
    PriceFile,
    load_price_file,
)
from .rates import CARD_PRICE_KEYS, ComponentCosts, RateCard, TokenCounts, rate_card

__all__ = ["PRICE_FILE_ENV", "ModelPrice", "PriceBook", "PriceSource"]

PRICE_FILE_ENV = "PTC_OBSERVE_PRICE_FILE"
"""Path of the user price file when none is given to the :class:`PriceBook`."""

_PROVIDER = "anthropic"
_DAY_NS = 86_400 * 10**9
_MAX_CACHED_MODELS = 1024
_DATE = re.compile(r"\b(20\d\d-[01]\d-[0-3]\d)\b")


@dataclass(frozen=True, slots=True)
class PriceSource:
    """One series of ``ptc_price_data_info``."""

    source: str
    version: str
    updated: str


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The prices one model name resolved to."""

    id: str
    """The price entry: genai-prices' model id, or ``file:<name>#<n>`` for a file entry."""
    card: RateCard


@dataclass(frozen=True, slots=True)
class _State:
    file: PriceFile | None
    container: ContainerPrices
    sources: tuple[PriceSource, ...]
    container_usd_per_second: float


@lru_cache(maxsize=1)
def _library() -> tuple[Any, PriceSource]:
    """genai-prices' bundled snapshot and its info series (loaded once per process)."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    dates: set[str] = set()
    for provider in snapshot.providers:
        if provider.id != _PROVIDER:
            continue
        dates.update(_DATE.findall(provider.price_comments or ""))
        for model in provider.models:
            dates.update(_DATE.findall(model.price_comments or ""))
            prices = model.prices if isinstance(model.prices, list) else []
            for conditional in prices:
                start = getattr(conditional.constraint, "start_date", None)
                if start is not None:
                    dates.add(start.isoformat())
    source = PriceSource(
        "genai-prices", _dist_version("genai-prices"), max(dates, default="")
    )
    return snapshot, source


def _price_keys(model_price: Any) -> dict[str, Any]:
    """The price keys a genai-prices ``ModelPrice`` sets."""
    return {
        k: v for k, v in vars(model_price).items() if v is not None and k[:1] != "_"
    }


class PriceBook:
    """Model prices and the container rate the observer prices exchanges with.

    Args:
        path: a user price file (YAML or JSON, see :mod:`.pricefile`); default: the
            ``PTC_OBSERVE_PRICE_FILE`` environment variable, else none.

    Raises:
        PriceFileError: the price file is missing or invalid (the message names the file
            and line).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            env = os.environ.get(PRICE_FILE_ENV, "").strip()
            path = env or None
        self._path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, ModelPrice | None]] = {}
        self._state = self._load()

    # --- loading ---

    def _load(self) -> _State:
        _, library = _library()
        file = load_price_file(self._path) if self._path is not None else None
        container = (
            file.container
            if file is not None and file.container is not None
            else DEFAULT_CONTAINER
        )
        sources = [library]
        if file is not None:
            sources.append(
                PriceSource(f"file:{file.path.name}", file.digest, file.updated)
            )
        sources.append(
            PriceSource(
                "container",
                f"{container.usd_per_hour}/h min {container.minimum_seconds:g}s",
                container.updated,
            )
        )
        return _State(
            file, container, tuple(sources), float(container.usd_per_hour / 3600)
        )

    def reload(self) -> None:
        """Read the price file again and use it from the next exchange on.

        Raises:
            PriceFileError: the file is now invalid; the prices in force stay as they were.
        """
        state = self._load()  # raises before anything changes
        with self._lock:
            self._state = state
            self._cache = {}

    @property
    def path(self) -> Path | None:
        """The user price file, if any."""
        return self._path

    @property
    def sources(self) -> tuple[PriceSource, ...]:
        """The ``ptc_price_data_info`` series: library, file (if any), container rate."""
        return self._state.sources

    @property
    def container(self) -> ContainerPrices:
        """How container time is billed."""
        return self._state.container

    # --- lookup ---

    def lookup(self, model: str, unix_ns: int | None = None) -> ModelPrice | None:
        """The prices of ``model`` on the day of ``unix_ns`` (default: now); ``None``:
        unknown model (or a price ptc_observe cannot decompose), so not priced."""
        if unix_ns is None:
            unix_ns = int(datetime.now(timezone.utc).timestamp() * 1e9)
        day = unix_ns // _DAY_NS
        cache = self._cache
        hit = cache.get(model)
        if hit is not None and hit[0] == day:
            return hit[1]
        found = self._resolve(model, day)
        if len(cache) < _MAX_CACHED_MODELS or model in cache:
            cache[model] = (day, found)
        return found

    def _resolve(self, model: str, day: int) -> ModelPrice | None:
        state = self._state
        if state.file is not None:
            name = state.file.path.name
            for n, (clause, prices) in enumerate(state.file.models):
                if clause.is_match(model.lower()):
                    card = rate_card(prices)
                    return (
                        None if card is None else ModelPrice(f"file:{name}#{n}", card)
                    )
        snapshot, _ = _library()
        try:
            provider, info = snapshot.find_provider_model(model, None, _PROVIDER, None)
        except LookupError:
            return None
        if isinstance(info.prices, list) and any(
            not hasattr(c.constraint, "start_date")
            for c in info.prices
            if c.constraint is not None
        ):
            return None  # time-of-day prices: not constant over a day
        when = datetime.fromtimestamp(day * 86_400, timezone.utc)
        prices = _price_keys(info.get_prices(when))
        if set(prices) - CARD_PRICE_KEYS:
            return None
        card = rate_card(prices)
        return None if card is None else ModelPrice(info.id, card)

    # --- pricing ---

    def cost(
        self, model: str | None, counts: TokenCounts, unix_ns: int | None = None
    ) -> tuple[ModelPrice, ComponentCosts] | None:
        """The cost of one response of ``model``; ``None`` when the model is unpriced.

        Raises:
            ValueError: a negative or non-integer count (see ``TokenCounts.validate``).
        """
        counts.validate()
        if not model:
            return None
        found = self.lookup(model, unix_ns)
        if found is None:
            return None
        return found, found.card.cost(counts)

    @property
    def container_usd_per_second(self) -> float:
        """The container rate in USD per second (float, for the hot path)."""
        return self._state.container_usd_per_second

    def container_cost(self, seconds: float) -> Decimal:
        """USD of ``seconds`` of container time at the rate in force."""
        return self._state.container.usd_per_hour * Decimal(repr(seconds)) / 3600
