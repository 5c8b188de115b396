"""The package as installed: its exports, version, type stubs and the
exception hierarchy that every front door shares codes with."""

from __future__ import annotations

import ast
import doctest
import inspect
import re
import typing
from pathlib import Path

import pytest

import stockkeeper
from stockkeeper import _stockkeeper

PACKAGE = Path(stockkeeper.__file__).parent
PROJECT = Path(__file__).resolve().parent.parent

CODES = {
    "empty_id": "InvalidInput",
    "id_too_long": "InvalidInput",
    "id_contains_nul": "InvalidInput",
    "invalid_utf8": "InvalidInput",
    "invalid_name": "InvalidInput",
    "invalid_quantity": "InvalidInput",
    "invalid_duration": "InvalidInput",
    "overflow": "Overflow",
    "unknown_product": "UnknownProduct",
    "unknown_order": "UnknownOrder",
    "product_exists": "ProductExists",
    "duplicate_order": "DuplicateOrder",
    "insufficient_stock": "InsufficientStock",
    "already_confirmed": "AlreadyConfirmed",
    "already_cancelled": "AlreadyCancelled",
    "expired": "Expired",
    "clock_not_manual": "ClockNotManual",
    "closed": "EngineClosed",
}


def test_version_is_the_crate_version() -> None:
    cargo = (PROJECT / "Cargo.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', cargo, re.MULTILINE)
    assert version and stockkeeper.__version__ == version[1]


def test_everything_exported_exists() -> None:
    for name in stockkeeper.__all__:
        assert hasattr(stockkeeper, name), name
    assert stockkeeper.MAX_COUNT == 2**63 - 1
    assert stockkeeper.MAX_ID_BYTES == 256


def test_the_package_is_typed() -> None:
    assert (PACKAGE / "py.typed").exists()
    assert (PACKAGE / "_stockkeeper.pyi").exists()


def stub_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_") or name == "__version__"}


def test_the_stub_matches_the_native_module() -> None:
    tree = ast.parse((PACKAGE / "_stockkeeper.pyi").read_text(encoding="utf-8"))
    public = {name for name in dir(_stockkeeper) if not name.startswith("_")}
    assert stub_names(tree) == public | {"__version__"}
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for name, node in classes.items():
        stubbed = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
        runtime = {
            attr
            for attr in vars(getattr(_stockkeeper, name))
            if not attr.startswith("_") and attr != "code"
        }
        assert runtime <= stubbed | {"args", "with_traceback", "add_note"}, name
        assert stubbed - {"__init__", "__eq__", "__hash__", "__enter__", "__exit__"} <= (
            runtime | set(dir(getattr(_stockkeeper, name)))
        ), name


def test_every_public_method_documents_its_contract() -> None:
    for cls in (
        stockkeeper.Engine,
        stockkeeper.Stock,
        stockkeeper.Deadline,
        stockkeeper.OrderStatus,
        stockkeeper.Metrics,
        stockkeeper.ProductOutcomes,
        stockkeeper.HoldEnded,
        stockkeeper.SoldOut,
    ):
        assert cls.__doc__, cls
    for name, member in vars(stockkeeper.Engine).items():
        if not name.startswith("_") and callable(member):
            assert inspect.getdoc(member), f"Engine.{name} has no docstring"


def test_event_is_the_union_of_the_event_classes() -> None:
    assert set(typing.get_args(stockkeeper.Event)) == {stockkeeper.HoldEnded, stockkeeper.SoldOut}


def test_the_package_doctest_runs() -> None:
    # The module docstring is the first example a reader meets.
    assert doctest.testmod(stockkeeper).failed == 0


def test_each_code_has_its_exception_class() -> None:
    for code, name in CODES.items():
        cls = getattr(stockkeeper, name)
        assert issubclass(cls, stockkeeper.StockkeeperError)
        assert cls.__module__ == "stockkeeper"
        assert cls.__doc__
        if name != "InvalidInput":
            assert cls.code == code


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("InvalidInput", ValueError),
        ("Overflow", ValueError),
        ("Overflow", OverflowError),
        ("NotFound", KeyError),
        ("UnknownProduct", KeyError),
        ("UnknownOrder", KeyError),
        ("ClockNotManual", RuntimeError),
        ("EngineClosed", RuntimeError),
        ("StockkeeperError", Exception),
    ],
)
def test_exceptions_subclass_the_matching_builtin(name: str, builtin: type) -> None:
    assert issubclass(getattr(stockkeeper, name), builtin)


@pytest.mark.parametrize(
    "name",
    [
        "ProductExists",
        "DuplicateOrder",
        "InsufficientStock",
        "AlreadyConfirmed",
        "AlreadyCancelled",
        "Expired",
    ],
)
def test_conflicts_are_grouped(name: str) -> None:
    cls = getattr(stockkeeper, name)
    assert issubclass(cls, stockkeeper.Conflict)
    assert not issubclass(cls, (ValueError, KeyError))


def test_not_found_reads_as_a_sentence_not_a_key() -> None:
    with stockkeeper.Engine(manual_clock=True) as engine:
        with pytest.raises(KeyError) as info:
            engine.available("ghost")
    assert str(info.value) == 'no product has id "ghost"'
