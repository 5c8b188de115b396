"""A process that forks after creating an engine.

The child gets a copy of the engine's memory but none of its threads (the
releaser and the notifier), and any lock a parent thread held at the fork
stays held. So an engine made before the fork acts as closed in the child:
every call raises EngineClosed, closing it returns at once, and the child
exits cleanly. A new engine made in the child works fully.
Each child runs with a deadline; a child still running at it counts as hung
and is killed, so a deadlock fails the test instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

import stockkeeper

# Far above what a child needs; only a hang reaches it.
DEADLINE = 20.0


def fork_and_wait(child: object, deadline: float = DEADLINE) -> int:
    """Runs `child()` in a forked process; returns its exit code, or fails if
    it has not exited by the deadline. The child's exit code is 0 when
    `child()` returns, 1 when it raises."""
    with warnings.catch_warnings():
        # Python warns that forking a multi-threaded process may deadlock:
        # that risk is what this test is about.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            child()  # type: ignore[operator]
            code = 0
        finally:
            os._exit(code)
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


def busy_engine() -> stockkeeper.Engine:
    """An engine with its releaser and notifier threads both started."""
    engine = stockkeeper.Engine(hold_time=60.0)
    engine.add_product("p", "P", 5)
    engine.subscribe(lambda event: None)
    engine.block("p", 1, "o1")
    engine.confirm("o1")
    engine.flush_events()
    return engine


def test_a_forked_child_uses_a_new_engine_and_the_inherited_one() -> None:
    inherited = busy_engine()

    def child() -> None:
        with stockkeeper.Engine(hold_time=60.0) as fresh:
            seen: list[object] = []
            fresh.subscribe(seen.append)
            fresh.add_product("q", "Q", 2)
            fresh.block("q", 1, "x")
            fresh.confirm("x")
            fresh.flush_events()
            assert len(seen) == 1
            assert fresh.available("q") == 1
        # The inherited engine acts as closed, whatever the call.
        for call in (
            lambda: inherited.available("p"),
            lambda: inherited.block("p", 2, "o2"),
            lambda: inherited.flush_events(),
        ):
            with pytest.raises(stockkeeper.EngineClosed):
                call()
        inherited.close()

    assert fork_and_wait(child) == 0
    # The parent's engine is untouched by what the child did.
    assert inherited.available("p") == 4
    inherited.close()


def test_the_inherited_engine_refuses_to_flush_in_a_forked_child_instead_of_hanging() -> None:
    inherited = busy_engine()

    def child() -> None:
        with pytest.raises(stockkeeper.EngineClosed):
            inherited.flush_events()

    try:
        assert fork_and_wait(child) == 0
    finally:
        inherited.close()


def test_a_forked_child_exits_cleanly_with_the_inherited_engine(tmp_path: Path) -> None:
    # A child that ends the ordinary way closes every engine at exit; run in
    # a fresh interpreter so that pytest's own state plays no part.
    script = textwrap.dedent(
        """
        import os, sys, warnings
        import stockkeeper
        engine = stockkeeper.Engine()
        engine.add_product("p", "P", 1)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
        if pid == 0:
            try:
                engine.available("p")
            except stockkeeper.EngineClosed:
                sys.exit(0)
            sys.exit(3)
        _, status = os.waitpid(pid, 0)
        engine.close()
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    # Run outside python/, where the source package would shadow the
    # installed one.
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        cwd=tmp_path,
    )
    assert result.returncode == 0
    assert "Panic" not in result.stderr, result.stderr


def test_a_child_forked_by_a_callback_exits_when_the_callback_returns() -> None:
    # The callback runs on the notifier thread, which in the child is the
    # only thread; once the callback returns there it ends, and the child
    # with it, instead of waiting for events that can never come.
    engine = stockkeeper.Engine(manual_clock=True)
    engine.add_product("p", "P", 5)
    children: list[int] = []

    def fork_here(event: stockkeeper.Event) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid != 0:
            children.append(pid)

    engine.subscribe(fork_here)
    engine.block("p", 1, "o1")
    engine.cancel("o1")
    engine.flush_events()
    assert len(children) == 1
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        done, status = os.waitpid(children[0], os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            break
        time.sleep(0.01)
    else:
        os.kill(children[0], 9)
        os.waitpid(children[0], 0)
        pytest.fail("the child forked by a callback never exited")
    engine.close()
