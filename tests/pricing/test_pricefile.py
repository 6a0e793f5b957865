"""The user price file: overrides, added models, container rate, errors with lines, reload."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ptc_observe.pricing import PRICE_FILE_ENV, PriceBook, PriceFileError, TokenCounts

NOW_NS = time.time_ns()

GOOD = """\
source: contract 2026-Q4
updated: 2026-11-30
models:
  - match: claude-sonnet-4-5
    prices:
      input_mtok: 2.7
      output_mtok: 13.5
      cache_read_mtok: 0.27
      cache_write_mtok: 3.375
      cache_write_1h_mtok: 5.4
      web_searches_kcount: 10
  - match: {regex: "^in-house-model-\\\\d+$"}
    prices:
      input_mtok: 1
      output_mtok: {base: 2, tiers: [{start: 1000, price: 4}]}
container:
  usd_per_hour: 0.1
  minimum_seconds: 60
  free_with_tools: [web_search_20260209]
  source: our invoice
  updated: 2026-12-01
"""


def cost(book: PriceBook, model: str, counts: TokenCounts) -> tuple[Any, Any]:
    priced = book.cost(model, counts, NOW_NS)
    assert priced is not None, model
    return priced


def price_id(book: PriceBook, model: str) -> str:
    found = book.lookup(model, NOW_NS)
    assert found is not None, model
    return found.id


def write(tmp_path: Path, text: str, name: str = "prices.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_file_overrides_and_adds_models(tmp_path):
    book = PriceBook(write(tmp_path, GOOD))
    found, costs = cost(
        book,
        "claude-sonnet-4-5-20250929",
        TokenCounts(
            input_tokens=1_000_000, output_tokens=1_000_000, web_search_requests=2
        ),
    )
    assert found.id == "file:prices.yaml#0"
    assert costs.input == Decimal("2.7") and costs.output == Decimal("13.5")
    assert costs.server_tools == Decimal("0.02")
    # Models the file does not name still come from genai-prices.
    assert price_id(book, "claude-haiku-4-5") == "claude-haiku-4-5"
    # An added model, with a tier: above 1000 input tokens every output token costs 4/MTok.
    _, small = cost(
        book, "in-house-model-7", TokenCounts(input_tokens=1000, output_tokens=10**6)
    )
    _, large = cost(
        book, "in-house-model-7", TokenCounts(input_tokens=1001, output_tokens=10**6)
    )
    assert small.output == Decimal(2) and large.output == Decimal(4)


def test_file_sets_container_rate_and_info(tmp_path):
    book = PriceBook(write(tmp_path, GOOD))
    assert book.container.usd_per_hour == Decimal("0.1")
    assert book.container.minimum_seconds == 60
    assert book.container.free_with_tools == frozenset({"web_search_20260209"})
    assert book.container_cost(3600) == Decimal("0.1")
    library, file, container = book.sources
    assert file.source == "file:prices.yaml" and len(file.version) == 12
    assert file.updated == "2026-11-30"
    assert container.updated == "2026-12-01"


def test_default_container_rule_is_anthropics_published_one():
    book = PriceBook()
    assert book.container.usd_per_hour == Decimal("0.05")
    assert book.container.minimum_seconds == 300
    assert book.container.free_with_tools == {
        "web_search_20260209",
        "web_fetch_20260209",
    }


def test_environment_variable_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(PRICE_FILE_ENV, str(write(tmp_path, GOOD)))
    assert PriceBook().path == tmp_path / "prices.yaml"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "models:\n  - match: x\n    prices:\n      input_mtok: -1\n      output_mtok: 1\n",
            4,
            "greater than or equal",
        ),
        ("models:\n  - match: x\n    prices:\n      input_mtok: 1\n", 3, "output_mtok"),
        (
            "models:\n  - match: x\n    prices:\n      input_mtok: 1\n      output_mtok: 1\n      inptu_mtok: 2\n",
            6,
            "Extra inputs",
        ),
        (
            "models:\n  - match: x\n    prices:\n      input_mtok: 1\n      output_mtok: 1\n      cache_write_1h_mtok: 2\n",
            3,
            "cache_write",
        ),
        (
            "models:\n  - match: {regex: '(('}\n    prices: {input_mtok: 1, output_mtok: 1}\n",
            2,
            "regular expression",
        ),
        (
            "models:\n  - match: {equals: a, regex: b}\n    prices: {input_mtok: 1, output_mtok: 1}\n",
            2,
            "exactly one",
        ),
        ("container:\n  usd_per_hour: cheap\n", 2, "decimal"),
        ("models: [\n  {match: x, prices: {input_mtok: 1}\n", 3, "YAML"),
        ("version: 2\n", 1, "version"),
        (
            "models:\n  - match: x\n    prices:\n      input_mtok: .nan\n      output_mtok: 1\n",
            4,
            "finite",
        ),
    ],
)
def test_bad_file_error_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(PriceFileError) as info:
        PriceBook(path)
    message = str(info.value)
    assert f"{path}:{line}:" in message, message
    assert words.lower() in message.lower(), message


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(PriceFileError, match="cannot read the price file"):
        PriceBook(tmp_path / "nope.yaml")


def test_reload_is_explicit_and_all_or_nothing(tmp_path):
    path = write(tmp_path, GOOD)
    book = PriceBook(path)
    counts = TokenCounts(input_tokens=10**6)
    assert cost(book, "claude-sonnet-4-5", counts)[1].input == Decimal("2.7")
    # Changing the file changes nothing until reload().
    path.write_text(GOOD.replace("input_mtok: 2.7", "input_mtok: 2.5"))
    assert cost(book, "claude-sonnet-4-5", counts)[1].input == Decimal("2.7")
    book.reload()
    assert cost(book, "claude-sonnet-4-5", counts)[1].input == Decimal("2.5")
    # A broken file refuses to load and the prices in force stay: nothing half-applied.
    path.write_text(
        GOOD.replace("input_mtok: 2.7", "input_mtok: 2.0").replace(
            "usd_per_hour: 0.1", "usd_per_hour: -3"
        )
    )
    with pytest.raises(PriceFileError):
        book.reload()
    assert cost(book, "claude-sonnet-4-5", counts)[1].input == Decimal("2.5")
    assert book.container.usd_per_hour == Decimal("0.1")


def test_json_file_works_too(tmp_path):
    path = write(
        tmp_path,
        '{"models": [{"match": "m-", "prices": {"input_mtok": 1, "output_mtok": 2}}]}',
        "p.json",
    )
    assert price_id(PriceBook(path), "m-1") == "file:p.json#0"
