"""The user price file: a YAML (or JSON) file that overrides or adds model prices and sets
the code-execution container rate, which genai-prices does not carry.

Format (every key optional; the price keys and their units are genai-prices' own, so an
entry can be copied from its data)::

    source: our contract 2026-Q4      # shown in ptc_price_data_info{source="file:..."}
    updated: 2026-11-30
    models:                           # tried in order, before genai-prices' data
      - match: claude-sonnet-4-5      # a prefix of the model name (case-insensitive), or
                                      # {equals: ...} / {starts_with: ...} / {regex: ...}
        prices:
          input_mtok: 2.7             # USD per million uncached input tokens (required)
          output_mtok: 13.5           # USD per million output tokens (required)
          cache_read_mtok: 0.27       # missing: cache reads cost the input price
          cache_write_mtok: 3.375     # 5-minute cache writes; missing: the input price
          cache_write_1h_mtok: 5.4    # missing: the cache_write_mtok price
          web_searches_kcount: 10     # USD per 1,000 web searches; missing: free
          # tiered: input_mtok: {base: 3, tiers: [{start: 200000, price: 6}]}
    container:
      usd_per_hour: 0.05
      minimum_seconds: 300
      free_with_tools: [web_search_20260209, web_fetch_20260209]
      source: https://platform.claude.com/docs/en/about-claude/pricing
      updated: 2026-12-03

:func:`load_price_file` validates the whole file before anything uses it and raises
:class:`PriceFileError` naming the file and the line of the first problems.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "ContainerPrices",
    "PriceFile",
    "PriceFileError",
    "PriceFileModel",
    "load_price_file",
]

_Price = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Tier(_Strict):
    start: Annotated[int, Field(ge=0, strict=True)]
    price: _Price


class _Tiered(_Strict):
    base: _Price
    tiers: list[_Tier] = Field(min_length=1)


_PriceValue = _Price | _Tiered


class _Prices(_Strict):
    input_mtok: _PriceValue
    output_mtok: _PriceValue
    cache_read_mtok: _PriceValue | None = None
    cache_write_mtok: _PriceValue | None = None
    cache_write_5m_mtok: _PriceValue | None = None
    cache_write_1h_mtok: _PriceValue | None = None
    output_reasoning_mtok: _PriceValue | None = None
    web_searches_kcount: _PriceValue | None = None


class _Match(_Strict):
    equals: str | None = None
    starts_with: str | None = None
    regex: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        import re

        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class _Model(_Strict):
    match: Annotated[str, Field(min_length=1)] | _Match
    prices: _Prices

    @field_validator("match")
    @classmethod
    def _one_rule(cls, value: str | _Match) -> str | _Match:
        if isinstance(value, _Match):
            rules = [v for v in (value.equals, value.starts_with, value.regex) if v]
            if len(rules) != 1:
                raise ValueError("give exactly one of equals, starts_with, regex")
        return value


class _Container(_Strict):
    usd_per_hour: _Price
    minimum_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 300.0
    free_with_tools: tuple[str, ...] = ("web_search_20260209", "web_fetch_20260209")
    source: str = ""
    updated: dt.date | None = None


class PriceFileModel(_Strict):
    """The schema of a price file (pydantic, extra keys forbidden)."""

    version: Literal[1] = 1
    source: str = ""
    updated: dt.date | None = None
    models: list[_Model] = []
    container: _Container | None = None


@dataclass(frozen=True, slots=True)
class ContainerPrices:
    """How code-execution container time is billed (see docs/telemetry.md, "Cost")."""

    usd_per_hour: Decimal
    minimum_seconds: float
    free_with_tools: frozenset[str]
    """Declaring any of these tool types in a request makes its container time free."""
    source: str
    updated: str


DEFAULT_CONTAINER = ContainerPrices(
    usd_per_hour=Decimal("0.05"),
    minimum_seconds=300.0,
    free_with_tools=frozenset({"web_search_20260209", "web_fetch_20260209"}),
    source="https://platform.claude.com/docs/en/about-claude/pricing#code-execution-tool",
    updated="2026-12-03",
)
"""Anthropic's published rule, read on the date given: $0.05 per container-hour, a
5-minute minimum, free when web_search_20260209 or web_fetch_20260209 is in the request;
the 1,550 free hours per organization and month are not deducted (see the docs)."""


@dataclass(frozen=True, slots=True)
class PriceFile:
    """A validated price file."""

    path: Path
    source: str
    updated: str
    digest: str
    """First 12 hex digits of the file's SHA-256 (its version in the info metric)."""
    models: tuple[tuple[Any, dict[str, Any]], ...]
    """(``genai_prices`` match clause, price key -> ``Decimal`` or ``TieredPrices``)."""
    container: ContainerPrices | None


class PriceFileError(ValueError):
    """A price file that cannot be used, with the file and line of each problem."""


def _line_of(node: Any, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at pydantic's error location ``loc``."""
    import yaml

    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    # The key's line: a missing field inside is reported at its parent.
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _clause(match: str | _Match) -> Any:
    from genai_prices.types import ClauseEquals, ClauseRegex, ClauseStartsWith

    if isinstance(match, str):
        return ClauseStartsWith(starts_with=match)
    if match.equals:
        return ClauseEquals(equals=match.equals)
    if match.starts_with:
        return ClauseStartsWith(starts_with=match.starts_with)
    return ClauseRegex(regex=match.regex or "")


def _price(value: Decimal | _Tiered) -> Any:
    from genai_prices.types import Tier, TieredPrices

    if isinstance(value, Decimal):
        return value
    return TieredPrices(
        base=value.base, tiers=[Tier(start=t.start, price=t.price) for t in value.tiers]
    )


def _library_refuses(prices: dict[str, Any]) -> str | None:
    """genai-prices' own objection to a set of prices (a 5m/1h cache-write price
    without the cache-write price it refines, ...), or ``None``."""
    import genai_prices
    from genai_prices.types import ModelPrice

    try:
        ModelPrice(**prices).calc_price(genai_prices.Usage(input_tokens=0))
    except ValueError as exc:
        return str(exc)
    return None


def load_price_file(path: str | os.PathLike[str]) -> PriceFile:
    """Read and validate a price file; nothing of it is used unless all of it is valid.

    Raises:
        PriceFileError: unreadable, not YAML/JSON, or not the schema: the message names the
            file and the line of each problem (up to five).
    """
    import hashlib

    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is in the yaml/demo/dev extras
        raise PriceFileError(
            f"{path}: reading a price file needs PyYAML (pip install 'ptc-observe[yaml]')"
        ) from None
    p = Path(path)
    try:
        raw = p.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceFileError(f"{p}: cannot read the price file: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PriceFileError(f"{where}: not valid YAML: {problem}") from None
    if data is None:
        data = {}
    try:
        model = PriceFileModel.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors()[:5]:
            loc = tuple(err["loc"])
            line = _line_of(node, loc)
            where = f"{p}:{line}" if line is not None else str(p)
            path_text = ".".join(str(x) for x in loc) or "(top level)"
            lines.append(f"{where}: {path_text}: {err['msg']}")
        more = len(exc.errors()) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        raise PriceFileError("invalid price file\n" + "\n".join(lines)) from None
    models = []
    for n, m in enumerate(model.models):
        prices = {key: _price(value) for key, value in m.prices if value is not None}
        problem = _library_refuses(prices)
        if problem:
            line = _line_of(node, ("models", n, "prices"))
            raise PriceFileError(
                f"invalid price file\n{p}:{line}: models.{n}.prices: {problem}"
            )
        models.append((_clause(m.match), prices))
    c = model.container
    container = (
        None
        if c is None
        else ContainerPrices(
            usd_per_hour=c.usd_per_hour,
            minimum_seconds=c.minimum_seconds,
            free_with_tools=frozenset(c.free_with_tools),
            source=c.source or f"file:{p.name}",
            updated=c.updated.isoformat() if c.updated else "",
        )
    )
    return PriceFile(
        path=p,
        source=model.source,
        updated=model.updated.isoformat() if model.updated else "",
        digest=hashlib.sha256(raw).hexdigest()[:12],
        models=tuple(models),
        container=container,
    )
