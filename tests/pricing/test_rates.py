"""Rate cards price exactly as ``genai_prices.calc_price`` does."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from genai_prices import data_snapshot
from genai_prices.types import ModelInfo, ModelPrice, Tier, TieredPrices
from hypothesis import given, settings, strategies as st

from ptc_observe.pricing import PriceBook, TokenCounts, rate_card

from .realdata import IDS, REAL

NOW_NS = time.time_ns()
NOW = dt.datetime.fromtimestamp(NOW_NS / 1e9, dt.timezone.utc)


def counts_of(usage: dict[str, Any]) -> TokenCounts:
    split = usage.get("cache_creation") or {}
    return TokenCounts(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        cache_read_tokens=usage.get("cache_read_input_tokens") or 0,
        cache_write_tokens=usage.get("cache_creation_input_tokens") or 0,
        cache_write_5m_tokens=split.get("ephemeral_5m_input_tokens"),
        cache_write_1h_tokens=split.get("ephemeral_1h_input_tokens"),
        web_search_requests=(usage.get("server_tool_use") or {}).get(
            "web_search_requests"
        )
        or 0,
    )


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


@pytest.mark.parametrize(("recording", "body"), REAL, ids=IDS)
def test_real_responses_cost_what_calc_price_says(book, recording, body):
    """Every recorded response: the card's total equals genai-prices' own extraction and price."""
    found, costs = book.cost(body["model"], counts_of(body["usage"]), NOW_NS)
    extracted = genai_prices.extract_usage(body, provider_id="anthropic")
    expected = extracted.calc_price(genai_request_timestamp=NOW)
    assert costs.total == expected.total_price
    assert found.id == expected.model.id
    assert costs.input + costs.cache_read + costs.cache_write == expected.input_price
    assert costs.output == expected.output_price


def anthropic_models():
    snapshot = data_snapshot.get_snapshot()
    (provider,) = [p for p in snapshot.providers if p.id == "anthropic"]
    return provider, provider.models


@settings(max_examples=100, deadline=None)
@given(
    model_index=st.integers(0, 200),
    uncached=st.integers(0, 400_000),
    output=st.integers(0, 100_000),
    cache_read=st.integers(0, 400_000),
    cw5=st.integers(0, 100_000),
    cw1=st.integers(0, 100_000),
    unsplit=st.integers(0, 50_000),
    split_known=st.booleans(),
    searches=st.integers(0, 20),
)
def test_every_anthropic_model_and_tier_matches_calc_price(
    model_index, uncached, output, cache_read, cw5, cw1, unsplit, split_known, searches
):
    """Random usages (tiers crossed at 200k input) over every Anthropic model of the data."""
    provider, models = anthropic_models()
    model: ModelInfo = models[model_index % len(models)]
    prices = {k: v for k, v in vars(model.get_prices(NOW)).items() if v is not None}
    card = rate_card(prices)
    assert card is not None, model.id
    counts = TokenCounts(
        input_tokens=uncached,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cw5 + cw1 + (0 if split_known else unsplit),
        cache_write_5m_tokens=cw5 if split_known else None,
        cache_write_1h_tokens=cw1 if split_known else None,
        web_search_requests=searches,
    )
    if not split_known:
        counts = TokenCounts(
            input_tokens=uncached,
            output_tokens=output,
            cache_read_tokens=cache_read,
            cache_write_tokens=cw5 + cw1 + unsplit,
            web_search_requests=searches,
        )
    expected = model.calc_price(
        genai_prices.Usage(**counts.genai_usage_kwargs()),
        provider,
        genai_request_timestamp=NOW,
    )
    assert card.cost(counts).total == expected.total_price


@settings(max_examples=100, deadline=None)
@given(
    uncached=st.integers(0, 300_000),
    output=st.integers(0, 50_000),
    reasoning=st.integers(0, 50_000),
    cache_read=st.integers(0, 300_000),
    cw=st.integers(0, 100_000),
    cw1_part=st.integers(0, 100),
    keys=st.sets(
        st.sampled_from(
            [
                "cache_read_mtok",
                "cache_write_mtok",
                "cache_write_5m_mtok",
                "cache_write_1h_mtok",
                "output_reasoning_mtok",
                "web_searches_kcount",
            ]
        )
    ),
    tiered=st.booleans(),
)
def test_missing_component_prices_fall_back_like_the_library(
    uncached, output, reasoning, cache_read, cw, cw1_part, keys, tiered
):
    """A component without a price of its own costs what genai-prices charges for it."""
    reasoning = min(reasoning, output)
    cw1 = cw * cw1_part // 100
    base = {"input_mtok": Decimal("3"), "output_mtok": Decimal("15")}
    extra = {
        "cache_read_mtok": Decimal("0.3"),
        "cache_write_mtok": Decimal("3.75"),
        "cache_write_5m_mtok": Decimal("3.5"),
        "cache_write_1h_mtok": Decimal("6"),
        "output_reasoning_mtok": Decimal("20"),
        "web_searches_kcount": Decimal("10"),
    }
    if keys & {"cache_write_5m_mtok", "cache_write_1h_mtok"}:
        keys = keys | {"cache_write_mtok"}  # genai-prices requires the parent price
    prices: dict[str, Any] = {**base, **{k: extra[k] for k in keys}}
    if tiered:
        prices["input_mtok"] = TieredPrices(
            base=Decimal("3"), tiers=[Tier(start=200_000, price=Decimal("6"))]
        )
    counts = TokenCounts(
        input_tokens=uncached,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cw,
        cache_write_5m_tokens=cw - cw1,
        cache_write_1h_tokens=cw1,
        reasoning_tokens=reasoning,
        web_search_requests=3,
    )
    _, models = anthropic_models()
    provider, _ = anthropic_models()
    info = ModelInfo(id="probe", match=models[0].match, prices=ModelPrice(**prices))
    expected = info.calc_price(
        genai_prices.Usage(**counts.genai_usage_kwargs()),
        provider,
        genai_request_timestamp=NOW,
    )
    card = rate_card(prices)
    assert card is not None
    assert card.cost(counts).total == expected.total_price


@settings(max_examples=200, deadline=None)
@given(
    model_index=st.integers(0, 200),
    uncached=st.integers(0, 400_000),
    output=st.integers(0, 100_000),
    reasoning_part=st.integers(0, 100),
    cache_read=st.integers(0, 400_000),
    cw5=st.integers(0, 100_000),
    cw1=st.integers(0, 100_000),
    unsplit=st.integers(0, 50_000),
    searches=st.integers(0, 20),
    probe=st.booleans(),
)
def test_the_hot_path_floats_are_the_exact_components_rounded_once(
    model_index,
    uncached,
    output,
    reasoning_part,
    cache_read,
    cw5,
    cw1,
    unsplit,
    searches,
    probe,
):
    """RateCard.floats (integer ratios, the observer's path) and the public Rates.floats
    give float() of each exact decimal component of RateCard.cost, to the last bit, on
    every model and tier."""
    _, models = anthropic_models()
    if probe:  # every split priced on its own, and a tier
        prices: dict[str, Any] = {
            "input_mtok": TieredPrices(
                base=Decimal("3"), tiers=[Tier(start=200_000, price=Decimal("6"))]
            ),
            "output_mtok": Decimal("15"),
            "cache_read_mtok": Decimal("0.3"),
            "cache_write_mtok": Decimal("3.75"),
            "cache_write_5m_mtok": Decimal("3.5"),
            "cache_write_1h_mtok": Decimal("6"),
            "output_reasoning_mtok": Decimal("20.7"),
            "web_searches_kcount": Decimal("10"),
        }
    else:
        model: ModelInfo = models[model_index % len(models)]
        prices = {k: v for k, v in vars(model.get_prices(NOW)).items() if v is not None}
    card = rate_card(prices)
    assert card is not None
    reasoning = output * reasoning_part // 100
    counts = TokenCounts(
        input_tokens=uncached,
        output_tokens=output,
        cache_read_tokens=cache_read,
        cache_write_tokens=cw5 + cw1 + unsplit,
        cache_write_5m_tokens=cw5,
        cache_write_1h_tokens=cw1,
        reasoning_tokens=reasoning,
        web_search_requests=searches,
    )
    exact = card.cost(counts)
    assert card.floats(
        uncached, output, cache_read, cw5 + cw1 + unsplit, cw5, cw1, reasoning, searches
    ) == (
        float(exact.input),
        float(exact.cache_read),
        float(exact.cache_write),
        float(exact.output),
        float(exact.server_tools),
    )
    num, den = card.input_ratio
    assert Decimal(num) / Decimal(den) == card.input_rate
    # The public per-tier Rates.floats prices the same way.
    rates = card.rates_for(counts.total_input_tokens)
    assert rates.floats(
        uncached, output, cache_read, cw5 + cw1 + unsplit, cw5, cw1, reasoning, searches
    ) == tuple(float(c) for c in (
        exact.input, exact.cache_read, exact.cache_write, exact.output, exact.server_tools
    ))  # fmt: skip


def test_unknown_model_is_unpriced_never_guessed(book):
    counts = TokenCounts(input_tokens=10, output_tokens=5)
    assert book.cost("gpt-4o", counts, NOW_NS) is None
    assert book.cost("claude-nonexistent-9", counts, NOW_NS) is None
    assert book.cost(None, counts, NOW_NS) is None
    assert book.cost("", counts, NOW_NS) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"input_tokens": -1},
        {"output_tokens": 1.5},
        {"cache_read_tokens": True},
        {"cache_write_tokens": "3"},
        {"cache_write_tokens": 2, "cache_write_1h_tokens": 3},
        {"output_tokens": 1, "reasoning_tokens": 2},
    ],
)
def test_bad_counts_are_refused(book, bad):
    with pytest.raises(ValueError):
        book.cost("claude-sonnet-4-5", TokenCounts(**bad), NOW_NS)


def test_price_without_input_or_output_gives_no_card():
    assert rate_card({"input_mtok": Decimal(1)}) is None
    assert (
        rate_card(
            {
                "input_mtok": Decimal(1),
                "output_mtok": Decimal(2),
                "requests_kcount": Decimal(1),
            }
        )
        is None
    )


def test_lookup_is_cached_per_model_and_day(book):
    first = book.lookup("claude-sonnet-4-5-20250929", NOW_NS)
    assert book.lookup("claude-sonnet-4-5-20250929", NOW_NS) is first
    # A different day resolves again (a price may change on a date).
    other_day = book.lookup("claude-sonnet-4-5-20250929", NOW_NS + 2 * 86_400 * 10**9)
    assert other_day is not None and other_day is not first


def test_price_data_info_names_the_library_version():
    (library, container) = PriceBook().sources
    assert library.source == "genai-prices"
    assert library.version == genai_prices.__version__
    assert library.updated[:2] == "20"
    assert container.source == "container"
