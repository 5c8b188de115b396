"""Shared fixtures, and the summary line of the behaviour cases."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# `python -m pytest` run from python/ puts that folder first on sys.path,
# where the package's sources lie without their compiled native module. The
# tests are for the installed package, so that folder is taken off the path.
_PROJECT = Path(__file__).resolve().parent.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _PROJECT]

import stockkeeper  # noqa: E402

# Filled by test_cases.py: per case file, how many of its steps ran through
# this front door and how many it skipped as not expressible.
CASE_STEPS: dict[str, tuple[int, int]] = {}


@pytest.fixture
def engine() -> Iterator[stockkeeper.Engine]:
    """An engine on the manual clock, with the default hold time (300 s)."""
    with stockkeeper.Engine(manual_clock=True) as engine:
        yield engine


@pytest.fixture
def kettle(engine: stockkeeper.Engine) -> stockkeeper.Engine:
    """The manual-clock engine with one product, "kettle", 10 units."""
    engine.add_product("kettle", "Kettle", 10)
    return engine


@contextmanager
def switch_interval(seconds: float) -> Iterator[None]:
    """The interpreter hands the GIL from a thread that keeps it to one
    waiting for it after `seconds` (`sys.setswitchinterval`), as long as
    the block runs."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CASE_STEPS:
        return
    verbose = terminalreporter.config.get_verbosity() > 0
    for name, (run, skipped) in sorted(CASE_STEPS.items()):
        if verbose or skipped:
            terminalreporter.write_line(f"  {name}: {run} steps run, {skipped} skipped")
    total_run = sum(run for run, _ in CASE_STEPS.values())
    total_skipped = sum(skipped for _, skipped in CASE_STEPS.values())
    terminalreporter.write_line(
        f"behaviour cases: {len(CASE_STEPS)} files, {total_run} steps run, "
        f"{total_skipped} skipped as not expressible in Python"
    )
