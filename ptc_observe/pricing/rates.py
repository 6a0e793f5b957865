"""Rate cards: one model's prices as USD per token of each kind, and one response's cost.

A :class:`RateCard` is built once per model (and UTC day, since prices can change on a
date) from a ``genai_prices`` :class:`~genai_prices.types.ModelPrice`; pricing a response
is then a handful of multiplications, where ``genai_prices.calc_price`` would cost about
150 microseconds a call. The card follows the library's own rules exactly:

* genai-prices counts ``input_tokens`` as *all* input (uncached plus cache reads and
  writes) and prices each kind of token that has no price of its own at its parent's
  price: cache reads and cache writes at the input price, 5-minute and 1-hour cache writes
  at the cache-write price, reasoning tokens at the output price;
* a tiered price (``TieredPrices``) applies its tier's rate to *all* tokens of that kind
  once the request's total input passes the tier's start;
* web searches cost ``web_searches_kcount`` per 1,000.

A model whose price uses anything else (per-request fees, modalities, ...) gets no card:
:func:`rate_card` returns ``None`` and the caller prices it with the library itself (slow
but exact). Tests check every card against ``genai_prices.calc_price``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from math import lcm
from typing import Any

__all__ = [
    "CARD_PRICE_KEYS",
    "ComponentCosts",
    "RateCard",
    "TokenCounts",
    "Rates",
    "rate_card",
]

_MTOK = Decimal(1_000_000)
_K = Decimal(1_000)
_ZERO = Decimal(0)

CARD_PRICE_KEYS = frozenset(
    {
        "input_mtok",
        "output_mtok",
        "cache_read_mtok",
        "cache_write_mtok",
        "cache_write_5m_mtok",
        "cache_write_1h_mtok",
        "output_reasoning_mtok",
        "web_searches_kcount",
    }
)
"""The genai-prices price keys a rate card understands (all that Anthropic models use)."""


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """The billed facts of one response, in the API's terms.

    ``input_tokens`` is the *uncached* input (as the Messages API reports it, and as
    ``ptc_tokens_total{token_kind="input"}`` counts it). ``cache_write_5m_tokens`` and
    ``cache_write_1h_tokens`` are the TTL split of ``cache_write_tokens`` when the API gave
    it (``None``: not said; the writes are then priced at the base cache-write price, the
    5-minute one). ``reasoning_tokens`` are part of ``output_tokens``.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_5m_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    reasoning_tokens: int | None = None
    web_search_requests: int = 0

    @property
    def total_input_tokens(self) -> int:
        """Uncached input plus cache reads and writes (genai-prices' ``input_tokens``)."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def tokens(self) -> int:
        """Every token of the response (input of all kinds plus output)."""
        return self.total_input_tokens + self.output_tokens

    def validate(self) -> None:
        """Raise ``ValueError`` unless every count is a non-negative int and the splits fit.

        Raises:
            ValueError: a negative or non-integer count, or a split larger than its total.
        """
        for name in self.__slots__:
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a non-negative int, not {value!r}")
        split = (self.cache_write_5m_tokens or 0) + (self.cache_write_1h_tokens or 0)
        if split > self.cache_write_tokens:
            raise ValueError(
                f"cache write split {split} exceeds cache_write_tokens {self.cache_write_tokens}"
            )
        if (self.reasoning_tokens or 0) > self.output_tokens:
            raise ValueError(
                f"reasoning_tokens {self.reasoning_tokens} exceed output_tokens {self.output_tokens}"
            )

    def genai_usage_kwargs(self) -> dict[str, int]:
        """The same facts as ``genai_prices.Usage`` keywords (as its Anthropic extractor reads them)."""
        kw = {
            "input_tokens": self.total_input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "web_searches": self.web_search_requests,
        }
        if self.cache_write_5m_tokens is not None:
            kw["cache_write_5m_tokens"] = self.cache_write_5m_tokens
        if self.cache_write_1h_tokens is not None:
            kw["cache_write_1h_tokens"] = self.cache_write_1h_tokens
        if self.reasoning_tokens is not None:
            kw["output_reasoning_tokens"] = self.reasoning_tokens
        return kw


_OPTIONAL = frozenset(
    {"cache_write_5m_tokens", "cache_write_1h_tokens", "reasoning_tokens"}
)


@dataclass(frozen=True, slots=True)
class ComponentCosts:
    """USD of one response by component (exact decimals; ``total`` is their sum)."""

    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    output: Decimal
    server_tools: Decimal

    @property
    def total(self) -> Decimal:
        """The sum of the components (what ``genai_prices.calc_price`` gives)."""
        return (
            self.input
            + self.cache_read
            + self.cache_write
            + self.output
            + self.server_tools
        )


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per token of each kind (``None``: the kind has its own price here but its
    parent decides; resolved at build time, so every field is a number)."""

    input: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    output: Decimal
    reasoning: Decimal
    web_search: Decimal
    split_5m: bool
    """The 5-minute writes have a price of their own (else they are base cache writes)."""
    split_1h: bool
    split_reasoning: bool

    def floats(
        self,
        input_tokens: int,
        output_tokens: int,
        cache_read: int,
        cache_write: int,
        cache_write_5m: int,
        cache_write_1h: int,
        reasoning: int,
        web_searches: int,
    ) -> tuple[float, float, float, float, float]:
        """:meth:`cost` in floats (input, cache read, cache write, output, server tools).

        Each component is the correctly rounded float of its exact value, so it equals
        ``float()`` of the component :meth:`cost` gives (the arithmetic of
        :meth:`RateCard.floats`, which prices the hot path from rates made once).
        """
        return _priced(
            _exact(self),
            input_tokens,
            output_tokens,
            cache_read,
            cache_write,
            cache_write_5m,
            cache_write_1h,
            reasoning,
            web_searches,
        )

    def cost(self, c: TokenCounts) -> ComponentCosts:
        """The cost of ``c`` at these rates."""
        cw = c.cache_write_tokens
        cache_write = _ZERO
        if self.split_5m and c.cache_write_5m_tokens:
            cw -= c.cache_write_5m_tokens
            cache_write += self.cache_write_5m * c.cache_write_5m_tokens
        if self.split_1h and c.cache_write_1h_tokens:
            cw -= c.cache_write_1h_tokens
            cache_write += self.cache_write_1h * c.cache_write_1h_tokens
        cache_write += self.cache_write * cw
        out = c.output_tokens
        output = _ZERO
        if self.split_reasoning and c.reasoning_tokens:
            out -= c.reasoning_tokens
            output += self.reasoning * c.reasoning_tokens
        output += self.output * out
        return ComponentCosts(
            self.input * c.input_tokens,
            self.cache_read * c.cache_read_tokens,
            cache_write,
            output,
            self.web_search * c.web_search_requests,
        )


class RateCard:
    """A model's rates, by tier of total input tokens (one tier for most models).

    Each tier's rates are also kept as exact integer ratios over one denominator
    (:meth:`floats`), so the observer prices an exchange with a few integer products
    and one correctly rounded division per component: the same floats as the exact
    decimal cost, without building a ``Decimal`` per exchange.
    """

    __slots__ = ("_exact", "_rates", "_starts", "input_ratio")

    def __init__(self, starts: tuple[int, ...], rates: tuple[Rates, ...]) -> None:
        self._starts = starts
        """Tier starts, ascending; ``rates[i + 1]`` applies above ``starts[i]``."""
        self._rates = rates
        self._exact = tuple(_exact(r) for r in rates)
        first = self._exact[0]
        self.input_ratio: tuple[int, int] = (first[1], first[0])
        """USD per uncached input token below the first tier, as an exact
        ``(numerator, denominator)`` (for estimates)."""

    def rates_for(self, total_input_tokens: int) -> Rates:
        """The rates in force for a request of ``total_input_tokens`` input tokens."""
        if not self._starts:
            return self._rates[0]
        # A tier applies when the total input is strictly above its start.
        return self._rates[bisect_left(self._starts, total_input_tokens)]

    def cost(self, c: TokenCounts) -> ComponentCosts:
        """The cost of one response's counts."""
        return self.rates_for(c.total_input_tokens).cost(c)

    def floats(
        self,
        input_tokens: int,
        output_tokens: int,
        cache_read: int,
        cache_write: int,
        cache_write_5m: int,
        cache_write_1h: int,
        reasoning: int,
        web_searches: int,
    ) -> tuple[float, float, float, float, float]:
        """:meth:`cost` in floats (input, cache read, cache write, output, server tools),
        for the observer's hot path: each component is the correctly rounded float of
        its exact value, so it equals ``float()`` of the component :meth:`cost` gives.

        The counts must be non-negative ints, with ``cache_write_5m + cache_write_1h <=
        cache_write`` and ``reasoning <= output_tokens`` (the caller checks).
        """
        starts = self._starts
        if starts:
            exact = self._exact[
                bisect_left(starts, input_tokens + cache_read + cache_write)
            ]
        else:
            exact = self._exact[0]
        return _priced(
            exact,
            input_tokens,
            output_tokens,
            cache_read,
            cache_write,
            cache_write_5m,
            cache_write_1h,
            reasoning,
            web_searches,
        )

    @property
    def input_rate(self) -> Decimal:
        """USD per uncached input token below the first tier (for estimates)."""
        return self._rates[0].input


def _exact(r: Rates) -> tuple[int, ...]:
    """``(denominator, input, cache read, cache write, 5m, 1h, output, reasoning, web
    search)``: the rates of ``r`` as integers over one common denominator.

    The 5-minute, 1-hour and reasoning rates are their parent's when the split has no
    price of its own (as :meth:`Rates.cost` prices them). Python's ``int / int`` is
    correctly rounded, so ``numerator * count / denominator`` is the float nearest the
    exact decimal product.
    """
    write_5m = r.cache_write_5m if r.split_5m else r.cache_write
    write_1h = r.cache_write_1h if r.split_1h else r.cache_write
    reasoning = r.reasoning if r.split_reasoning else r.output
    values = (
        r.input,
        r.cache_read,
        r.cache_write,
        write_5m,
        write_1h,
        r.output,
        reasoning,
        r.web_search,
    )
    ratios = [v.as_integer_ratio() for v in values]
    den = lcm(*(d for _, d in ratios))
    return (den, *(n * (den // d) for n, d in ratios))


def _price_at(price: Any, total_input: int) -> Decimal | None:
    """The per-MTok (or per-K) price of ``price`` at a request of ``total_input`` tokens."""
    if price is None:
        return None
    if isinstance(price, Decimal):
        return price
    chosen: Decimal = price.base
    for tier in reversed(price.tiers):
        if total_input > tier.start:
            chosen = tier.price
            break
    return chosen


def _rates_at(prices: Mapping[str, Any], total_input: int) -> Rates | None:
    def p(key: str) -> Decimal | None:
        return _price_at(prices.get(key), total_input)

    inp, out = p("input_mtok"), p("output_mtok")
    if inp is None or out is None:
        return None
    cw = p("cache_write_mtok")
    cw5, cw1 = p("cache_write_5m_mtok"), p("cache_write_1h_mtok")
    cr = p("cache_read_mtok")
    reasoning = p("output_reasoning_mtok")
    ws = p("web_searches_kcount")
    cw_base = cw if cw is not None else inp
    return Rates(
        input=inp / _MTOK,
        cache_read=(cr if cr is not None else inp) / _MTOK,
        cache_write=cw_base / _MTOK,
        cache_write_5m=(cw5 if cw5 is not None else cw_base) / _MTOK,
        cache_write_1h=(cw1 if cw1 is not None else cw_base) / _MTOK,
        output=out / _MTOK,
        reasoning=(reasoning if reasoning is not None else out) / _MTOK,
        web_search=(ws if ws is not None else _ZERO) / _K,
        split_5m=cw5 is not None,
        split_1h=cw1 is not None,
        split_reasoning=reasoning is not None,
    )


def rate_card(prices: Mapping[str, Any]) -> RateCard | None:
    """The rate card of a model's prices (price key -> ``Decimal`` or ``TieredPrices``).

    ``None`` when the prices use a key outside :data:`CARD_PRICE_KEYS` (price such a model
    with the library) or lack an input or output price (such a model is not priced).
    """
    set_keys = {k for k, v in prices.items() if v is not None}
    if set_keys - CARD_PRICE_KEYS:
        return None
    starts = sorted(
        {
            tier.start
            for v in prices.values()
            if v is not None and not isinstance(v, Decimal)
            for tier in v.tiers
        }
    )
    # Segment i covers totals in (starts[i-1], starts[i]]; pick one total inside each.
    probes = [0, *(s + 1 for s in starts)]
    rates = []
    for total in probes:
        r = _rates_at(prices, total)
        if r is None:
            return None
        rates.append(r)
    return RateCard(tuple(starts), tuple(rates))


def _priced(
    exact: tuple[int, ...],
    input_tokens: int,
    output_tokens: int,
    cache_read: int,
    cache_write: int,
    cache_write_5m: int,
    cache_write_1h: int,
    reasoning: int,
    web_searches: int,
) -> tuple[float, float, float, float, float]:
    """The five components priced with :func:`_exact`'s integers: an integer product and
    one correctly rounded division each."""
    den, inp, read, write, write_5m, write_1h, out, reasoned, search = exact
    # A kind without a price of its own has its parent's rate here, so splitting
    # the count changes nothing: no branch on whether a split is priced.
    return (
        inp * input_tokens / den,
        read * cache_read / den,
        (
            write * (cache_write - cache_write_5m - cache_write_1h)
            + write_5m * cache_write_5m
            + write_1h * cache_write_1h
        )
        / den,
        (out * (output_tokens - reasoning) + reasoned * reasoning) / den,
        search * web_searches / den,
    )
