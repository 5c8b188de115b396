"""Runs every shared behaviour case (tests/cases/*.case at the repository
root) through the Python front door, one test per file.

The format is described in tests/cases/README.md. Python ints carry any
number the cases hold, and bytes that are not UTF-8 become a str with
surrogate escapes, which the engine must refuse as invalid_utf8. The only
step this front door cannot express is a duration with a fraction of a
second that no float rounds back to: times are float seconds here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import pytest
from conftest import CASE_STEPS

import stockkeeper

CASES_DIR = Path(__file__).resolve().parent.parent.parent / "tests" / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.case"))

UNIT_NS = {"ns": 1, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}

# The most requests a batch step may have (tests/cases/README.md).
MAX_BATCH = 64

# The error codes a case may name, as tests/cases/README.md lists them.
CODES = frozenset(
    "empty_id id_too_long id_contains_nul invalid_utf8 invalid_name invalid_quantity overflow "
    "invalid_duration unknown_product unknown_order product_exists duplicate_order "
    "insufficient_stock already_confirmed already_cancelled expired clock_not_manual "
    "closed".split()
)
NS_PER_S = 10**9


class NotExpressible(Exception):
    """A step this front door cannot pass to the engine as written."""


@dataclass
class Step:
    line: int
    text: str
    operation: str
    args: list[str]
    expected: list[str]


def parse_case(path: Path) -> tuple[dict[str, str], list[Step]]:
    """The engine options and the steps of one case file."""
    options: dict[str, str] = {}
    steps: list[Step] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        if tokens[0] == "engine":
            assert not steps, f"{path.name}:{number}: `engine` must be the first step"
            for option in tokens[1:]:
                name, _, value = option.partition("=")
                options[name] = value
            continue
        assert "=>" in tokens, f"{path.name}:{number}: no `=>` in {line!r}"
        arrow = tokens.index("=>")
        assert arrow < len(tokens) - 1, f"{path.name}:{number}: nothing after `=>` in {line!r}"
        steps.append(Step(number, line, tokens[0], tokens[1:arrow], tokens[arrow + 1 :]))
    return options, steps


def text(token: str) -> str:
    """An id or name token: `""`, then `TEXT*N` repetition, then `%XX`
    bytes; bytes that are not UTF-8 become surrogate escapes."""
    if token == '""':
        return ""
    repeated = re.fullmatch(r"(.*)\*(\d+)", token, re.DOTALL)
    if repeated:
        token = repeated[1] * int(repeated[2])
    raw = re.sub(
        rb"%([0-9A-Fa-f]{2})",
        lambda byte: bytes([int(byte[1], 16)]),
        token.encode("utf-8"),
    )
    return raw.decode("utf-8", "surrogateescape")


def duration_ns(token: str) -> int:
    match = re.fullmatch(r"(-?\d+)(ns|ms|s|m|h)", token)
    assert match, f"not a duration: {token!r}"
    return int(match[1]) * UNIT_NS[match[2]]


def seconds(token: str) -> int | float:
    """A duration token as the seconds the Python API takes: an int when
    whole, else the float that rounds back to the same nanosecond."""
    ns = duration_ns(token)
    if ns % NS_PER_S == 0:
        return ns // NS_PER_S
    as_float = ns / NS_PER_S
    if round(Fraction(as_float) * NS_PER_S) != ns:
        raise NotExpressible(f"{token} has no float form exact to the nanosecond")
    return as_float


def number(token: str) -> int:
    """A decimal number as the README writes one (Python's int() would also
    take `1_0` or ` 1`)."""
    assert re.fullmatch(r"-?\d+", token), f"not a decimal number: {token!r}"
    return int(token)


def pairs(tokens: list[str]) -> list[tuple[str, int]]:
    assert tokens and len(tokens) % 2 == 0, f"lines must be product/quantity pairs: {tokens}"
    return [(text(tokens[i]), number(tokens[i + 1])) for i in range(0, len(tokens), 2)]


def hold(
    engine: stockkeeper.Engine, order: str, lines: list[str], hold_time: str | None
) -> list[str]:
    held = pairs(lines)
    span = None if hold_time is None else seconds(hold_time)
    if len(held) == 1:
        [(product, quantity)] = held
        engine.block(product, quantity, text(order), span)
    else:
        engine.block_order(text(order), held, span)
    return ["ok"]


def block_many(engine: stockkeeper.Engine, tokens: list[str]) -> list[str]:
    assert tokens and len(tokens) % 3 == 0, f"requests must be triples: {tokens}"
    assert len(tokens) <= 3 * MAX_BATCH, f"a batch step has at most {MAX_BATCH} requests"
    requests = [
        (text(tokens[i + 1]), number(tokens[i + 2]), text(tokens[i]))
        for i in range(0, len(tokens), 3)
    ]
    return answers(engine.block_many(requests))


def add_many(engine: stockkeeper.Engine, tokens: list[str]) -> list[str]:
    """`add_products` answers up to the first product refused, raising for
    it with how many it added: the runner goes on past it, so that every
    product gets its answer, as a batch's statuses give them elsewhere."""
    assert tokens and len(tokens) % 3 == 0, f"products must be triples: {tokens}"
    assert len(tokens) <= 3 * MAX_BATCH, f"a batch step has at most {MAX_BATCH} products"
    products = [
        (text(tokens[i]), text(tokens[i + 1]), number(tokens[i + 2]))
        for i in range(0, len(tokens), 3)
    ]
    got: list[str] = []
    while len(got) < len(products):
        try:
            got += ["ok"] * engine.add_products(products[len(got):])
        except stockkeeper.StockkeeperError as error:
            if error.code == "closed" and not got:
                raise
            got += ["ok"] * error.added + [error.code]
    return got


def confirm_many(engine: stockkeeper.Engine, tokens: list[str]) -> list[str]:
    assert 0 < len(tokens) <= MAX_BATCH, f"a batch step has 1 to {MAX_BATCH} orders"
    return answers(engine.confirm_many([text(order) for order in tokens]))


def answers(held: list[bool]) -> list[str]:
    """A batch's True or False for each request, as the tokens `ok` and
    `refused`: Python's batch calls do not say why a request was refused."""
    return ["ok" if each else "refused" for each in held]


def status(engine: stockkeeper.Engine, order: str) -> list[str]:
    found = engine.status(text(order))
    return [found.state, f"deadline={found.deadline.since_start_ns}ns"]


def done(call: Callable[[], object]) -> list[str]:
    call()
    return ["ok"]


def perform(engine: stockkeeper.Engine, step: Step) -> list[str]:
    """Runs one step; returns its outcome as tokens comparable with the
    expected ones (after `normalise`)."""
    a = step.args
    operations: dict[str, Callable[[], list[str]]] = {
        "add": lambda: done(lambda: engine.add_product(text(a[0]), text(a[1]), number(a[2]))),
        "available": lambda: [str(engine.available(text(a[0])))],
        "stock": lambda: [str(n) for n in _stock_numbers(engine.stock(text(a[0])))],
        "update": lambda: done(lambda: engine.update_inventory(text(a[0]), number(a[1]))),
        "block": lambda: hold(engine, a[0], a[1:], None),
        "block_for": lambda: hold(engine, a[1], a[2:], a[0]),
        "confirm": lambda: done(lambda: engine.confirm(text(a[0]))),
        "cancel": lambda: done(lambda: engine.cancel(text(a[0]))),
        "extend": lambda: done(lambda: engine.extend(text(a[0]), seconds(a[1]))),
        "status": lambda: status(engine, a[0]),
        "advance": lambda: [str(engine.advance(seconds(a[0])))],
        "release": lambda: [str(engine.release_expired())],
        "close": lambda: done(engine.close),
        "add_many": lambda: add_many(engine, a),
        "block_many": lambda: block_many(engine, a),
        "confirm_many": lambda: confirm_many(engine, a),
    }
    assert step.operation in operations, f"unknown operation {step.operation!r}"
    return operations[step.operation]()


def _stock_numbers(stock: stockkeeper.Stock) -> tuple[int, int, int]:
    return stock.on_hand, stock.reserved, stock.available


def normalise(
    operation: str, expected: list[str], outcome: list[str]
) -> tuple[list[str], list[str]]:
    """Makes a status outcome comparable: its deadline in nanoseconds, and
    only when the case asks for it. A batch's expected error codes become
    `refused`, all that its answers tell."""
    if operation in ("block_many", "confirm_many") and expected[0] != "error":
        unknown = [token for token in expected if token != "ok" and token not in CODES]
        assert not unknown, f"not `ok` or an error code: {unknown}"
        return ["ok" if token == "ok" else "refused" for token in expected], outcome
    if outcome and outcome[-1].startswith("deadline="):
        wanted = [token for token in expected if not token.startswith("deadline=")]
        deadlines = [token for token in expected if token.startswith("deadline=")]
        if deadlines:
            ns = duration_ns(deadlines[0].split("=", 1)[1])
            return wanted + [f"deadline={ns}ns"], outcome
        return wanted, outcome[:-1]
    return expected, outcome


def make_engine(options: dict[str, str]) -> stockkeeper.Engine:
    known = {"hold", "retention", "remember"}
    unknown = set(options) - known
    assert not unknown, f"engine options this runner does not know: {sorted(unknown)}"
    settings: dict[str, object] = {"manual_clock": True, "background_release": False}
    if "retention" in options:
        settings["retention"] = seconds(options["retention"])
    if "remember" in options:
        settings["max_remembered"] = int(options["remember"])
    hold_time = seconds(options["hold"]) if "hold" in options else 300
    return stockkeeper.Engine(hold_time, **settings)  # type: ignore[arg-type]


def run_case(path: Path) -> None:
    options, steps = parse_case(path)
    run = skipped = 0
    try:
        with make_engine(options) as engine:
            for step in steps:
                where = f"{path.name}:{step.line}: {step.text}"
                try:
                    outcome = perform(engine, step)
                except NotExpressible as why:
                    # A failed step changes nothing, so skipping it leaves
                    # the rest of the case sound; a successful one does not.
                    assert step.expected[0] == "error", f"{where}\n  broken case: {why}"
                    skipped += 1
                    continue
                except stockkeeper.StockkeeperError as error:
                    outcome = ["error", error.code]
                run += 1
                expected, got = normalise(step.operation, step.expected, outcome)
                assert got == expected, f"{where}\n  expected: {expected}\n  got:      {got}"
    finally:
        CASE_STEPS[path.name] = (run, skipped)


def test_the_cases_are_found() -> None:
    assert CASE_FILES, f"no behaviour cases in {CASES_DIR}"


@pytest.mark.parametrize("path", CASE_FILES, ids=[path.stem for path in CASE_FILES])
def test_case(path: Path) -> None:
    run_case(path)


def test_tokens_decode_as_the_readme_says() -> None:
    assert text('""') == ""
    assert text("a*3") == "aaa"
    assert text("a%20b") == "a b"
    assert text("a%00b") == "a\x00b"
    assert text("%C3%A9*128").encode("utf-8") == "é".encode() * 128
    assert text("%FF%FE") == b"\xff\xfe".decode("utf-8", "surrogateescape")
    assert duration_ns("300s") == 300 * NS_PER_S
    assert duration_ns("1ns") == 1
    assert duration_ns("1h") == 3600 * NS_PER_S
    assert seconds("300s") == 300 and isinstance(seconds("300s"), int)
    assert seconds("1500ms") == 1.5
    with pytest.raises(NotExpressible):
        seconds(f"{2**62 + 1}ns")
