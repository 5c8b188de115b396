"""Random operations with arbitrary strings and integers through
`stockkeeper.Engine`, checking after each one what must hold whatever the
input: every refusal is a `StockkeeperError` or `TypeError`, never a crash
or another exception; `0 <= reserved <= on_hand` and `available ==
on_hand - reserved` for every product; the counters agree.

Needs hypothesis, which `make verify` installs for it; without it these tests
are skipped. STOCKKEEPER_HYPOTHESIS_EXAMPLES sets how many runs each makes.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import stockkeeper  # noqa: E402

EXAMPLES = int(os.environ.get("STOCKKEEPER_HYPOTHESIS_EXAMPLES", "100"))
PRODUCTS = ["p0", "p1", "p2"]
ORDERS = ["o0", "o1", "o2"]

# Mostly the ids the run shares, sometimes any text: empty, long, with NUL
# bytes or lone surrogates (which are not valid UTF-8).
ids = st.one_of(
    st.sampled_from(PRODUCTS + ORDERS),
    st.text(max_size=300),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),
)
counts = st.one_of(
    st.integers(min_value=-3, max_value=6),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), 2**64]),
)
seconds = st.one_of(
    st.floats(min_value=0.0, max_value=10.0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-5, max_value=2**70),
)
lines = st.lists(st.tuples(ids, counts), max_size=4)

operations = st.one_of(
    st.tuples(st.just("add_product"), ids, ids, counts),
    st.tuples(st.just("available"), ids),
    st.tuples(st.just("stock"), ids),
    st.tuples(st.just("update_inventory"), ids, counts),
    st.tuples(st.just("block"), ids, counts, ids),
    st.tuples(st.just("block"), ids, counts, ids, seconds),
    st.tuples(st.just("block_order"), ids, lines),
    st.tuples(st.just("block_order"), ids, lines, seconds),
    st.tuples(st.just("confirm"), ids),
    st.tuples(st.just("cancel"), ids),
    st.tuples(st.just("extend"), ids, seconds),
    st.tuples(st.just("status"), ids),
    st.tuples(st.just("advance"), seconds),
    st.tuples(st.just("release_expired")),
    st.tuples(st.just("metrics")),
)


def check_invariants(engine: stockkeeper.Engine) -> None:
    for product in PRODUCTS:
        try:
            stock = engine.stock(product)
        except stockkeeper.UnknownProduct:
            continue
        assert 0 <= stock.reserved <= stock.on_hand
        assert stock.available == stock.on_hand - stock.reserved
    metrics = engine.metrics()
    ended = metrics.confirmed + metrics.cancelled + metrics.expired
    assert metrics.live_holds == metrics.held - ended


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(operations, max_size=40), st.lists(st.integers(0, 5), min_size=3, max_size=3))
def test_random_operations_keep_the_invariants(
    calls: list[tuple[Any, ...]], stock: list[int]
) -> None:
    with stockkeeper.Engine(5.0, manual_clock=True) as engine:
        for product, units in zip(PRODUCTS, stock):
            engine.add_product(product, product, units)
        for name, *arguments in calls:
            method: Callable[..., Any] = getattr(engine, name)
            try:
                method(*arguments)
            except (stockkeeper.StockkeeperError, TypeError):
                # Every refusal is typed; anything else fails the test.
                pass
            check_invariants(engine)
