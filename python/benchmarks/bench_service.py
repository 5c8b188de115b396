"""The earlier pure-Python service against `stockkeeper.InventoryService`.

Both run the same Python workload, with every id prepared before the clock
starts: loading a catalogue, block+confirm pairs and stock reads, from one
Python thread and from several. Each figure is printed as one JSON line for
tests/bench/report.py; progress goes to stderr.

    python bench_service.py [--original PATH] [--scale N]

PATH is the earlier service's source (by default ../shared/reference/
original_solution.py beside the repository); without it only stockkeeper's
figures are printed. Every subject runs `--rounds` times, the subjects in
turn. The same harness also runs a service whose methods
do nothing, the floor: what the workload's own Python costs, which no
service can go below; and the package's own API (`Engine.block`,
`Engine.confirm`, `Engine.available`), which raises where the earlier one
answers False, and its pairs again with a callback subscribed that counts
every event. A batch entry point (`Engine.block_many` and
`Engine.confirm_many`) is measured when the package has one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import stockkeeper

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ORIGINAL = ROOT.parent / "shared" / "reference" / "original_solution.py"
THREADS = 4
SAMPLE_EVERY = 8


def load_original(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("original_solution", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.InventoryService


def percentiles(nanos: list[int]) -> dict[str, float]:
    if not nanos:
        return {}
    nanos.sort()

    def at(q: float) -> float:
        return float(nanos[round((len(nanos) - 1) * q)])

    return {"p50_ns": at(0.5), "p99_ns": at(0.99), "p999_ns": at(0.999), "max_ns": at(1.0)}


def emit(
    workload: str, subject: str, ops: int, secs: float, nanos: list[int], **extra: float
) -> None:
    record = {"workload": workload, "subject": subject, "ops": ops, "secs": secs,
              "ops_per_sec": ops / secs, **percentiles(nanos), **extra}
    print(json.dumps(record), flush=True)


def timed(items: list[Any], op: Callable[[Any], object], every: int = SAMPLE_EVERY) -> list[int]:
    """Runs op over items, timing one call in `every`."""
    nanos = []
    clock = time.perf_counter_ns
    for i, item in enumerate(items):
        if i % every:
            op(item)
        else:
            start = clock()
            op(item)
            nanos.append(clock() - start)
    return nanos


def together(chunks: list[list[Any]], op: Callable[[Any], object],
             every: int = SAMPLE_EVERY) -> tuple[float, list[int]]:
    """Runs op over each chunk on a thread of its own, all started at once;
    returns the wall time and every sampled latency (one call in `every`)."""
    barrier = threading.Barrier(len(chunks) + 1)
    results: list[list[int]] = [[] for _ in chunks]

    def work(index: int) -> None:
        barrier.wait()
        results[index] = timed(chunks[index], op, every)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(chunks))]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start, [n for r in results for n in r]


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


class Floor:
    """A service that does nothing, answering as a successful call would."""

    def addProduct(self, product_id: str, name: str, inventory_count: int) -> None:
        return None

    def getInventory(self, product_id: str) -> int:
        return 0

    def blockInventory(self, product_id: str, order_quantity: int, order_id: str) -> bool:
        return True

    def confirmOrder(self, order_id: str) -> bool:
        return True


class Calls(NamedTuple):
    """The calls the workload makes: add a product, make a block+confirm
    pair of a (product, order) request, read a product's stock."""

    add: Callable[[str, str, int], object]
    pair: Callable[[tuple[str, str]], None]
    read: Callable[[str], object]


def service_calls(service: Any) -> Calls:
    """The earlier service's API: `InventoryService`, the original, the floor."""

    def pair(request: tuple[str, str]) -> None:
        product, order = request
        if not (service.blockInventory(product, 1, order) and service.confirmOrder(order)):
            raise RuntimeError(f"pair {order} refused")

    return Calls(service.addProduct, pair, service.getInventory)


def engine_calls(engine: stockkeeper.Engine) -> Calls:
    """The package's own API, which raises where the earlier one answers False."""

    def pair(request: tuple[str, str]) -> None:
        product, order = request
        engine.block(product, 1, order)
        engine.confirm(order)

    return Calls(engine.add_product, pair, engine.available)


def run_service(subject: str, calls: Calls, products: list[str], pairs: int, reads: int) -> None:
    print(f"bench: python {subject}", file=sys.stderr)
    catalogue = [(pid, f"Product {pid}", 1_000_000) for pid in products]
    start = time.perf_counter()
    nanos = timed(catalogue, lambda p: calls.add(*p))
    emit("py-load", subject, len(catalogue), time.perf_counter() - start, nanos)

    rng = random.Random(1)
    for threads in (1, THREADS):
        requests = [(rng.choice(products), f"ord-{subject}-{threads}-{i}") for i in range(pairs)]
        secs, nanos = together(split(requests, threads), calls.pair)
        emit("py-pairs", subject, pairs, secs, nanos, threads=threads)

        queries = [rng.choice(products) for _ in range(reads)]
        secs, nanos = together(split(queries, threads), calls.read)
        emit("py-reads", subject, reads, secs, nanos, threads=threads)


def run_callback(products: list[str], pairs: int) -> None:
    """Pairs through `Engine` with a callback subscribed that counts every
    event, which the notifier thread runs with the GIL. Every event is
    delivered before the figure is emitted; the time covers the pairs."""
    print("bench: python engine, a callback subscribed", file=sys.stderr)
    with stockkeeper.Engine() as engine:
        engine.add_products([(pid, f"Product {pid}", 1_000_000) for pid in products])
        heard = [0]

        def count(event: object) -> None:
            heard[0] += 1

        engine.subscribe(count)
        calls = engine_calls(engine)
        rng = random.Random(3)
        for threads in (1, THREADS):
            requests = [(rng.choice(products), f"ord-callback-{threads}-{i}")
                        for i in range(pairs)]
            secs, nanos = together(split(requests, threads), calls.pair)
            engine.flush_events()
            if heard[0] != pairs:
                raise RuntimeError(f"{heard[0]} events heard of {pairs} pairs")
            heard[0] = 0
            emit("py-pairs-callback", "engine", pairs, secs, nanos, threads=threads)


def run_batch(products: list[str], pairs: int) -> None:
    engine = stockkeeper.Engine()
    if not (hasattr(engine, "block_many") and hasattr(engine, "confirm_many")):
        print("bench: no batch entry point (Engine.block_many, Engine.confirm_many)",
              file=sys.stderr)
        engine.close()
        return
    print("bench: python batch", file=sys.stderr)
    catalogue = [(pid, f"Product {pid}", 1_000_000) for pid in products]
    start = time.perf_counter()
    added = engine.add_products(catalogue)
    emit("py-load-batch", "service", added, time.perf_counter() - start, [])
    rng = random.Random(2)
    batch = 1000

    def pairs_of(chunk: list[tuple[str, int, str]]) -> None:
        held = engine.block_many(chunk)
        confirmed = engine.confirm_many([order for _, _, order in chunk])
        if not (all(held) and all(confirmed)):
            raise RuntimeError(f"batch from {chunk[0][2]} refused")

    # Each thread runs its own batches; a batch converts its requests with
    # the GIL held and runs them without it, so threads overlap there.
    for threads in (1, THREADS):
        requests = [(rng.choice(products), 1, f"ord-batch-{threads}-{i}") for i in range(pairs)]
        parts = split([requests[i:i + batch] for i in range(0, pairs, batch)], threads)
        secs, nanos = together(parts, pairs_of, every=1)
        # Every batch is timed, in the order of the parts: a pair's share of each.
        sizes = [len(chunk) for part in parts for chunk in part]
        emit("py-pairs-batch", "service", pairs, secs,
             [n // size for n, size in zip(nanos, sizes)], batch=batch, threads=threads)
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", type=Path, default=DEFAULT_ORIGINAL)
    parser.add_argument("--scale", type=int, default=200_000,
                        help="products, pairs and reads per workload")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times every subject runs, the subjects in turn")
    args = parser.parse_args()
    products = [f"sku-{i:010d}" for i in range(args.scale)]
    if not args.original.is_file():
        print(f"bench: {args.original} not found; the original is skipped", file=sys.stderr)

    # Seconds apart on a shared machine, two runs of the same thing can
    # differ by more than the subjects differ: every subject runs in each
    # round, and the report keeps each figure's best round.
    for _ in range(args.rounds):
        if args.original.is_file():
            original = load_original(args.original)()
            original.start_cleanup()
            run_service("original", service_calls(original), products, args.scale, args.scale)
        run_service("floor", service_calls(Floor()), products, args.scale, args.scale)
        service = stockkeeper.InventoryService()
        service.start_cleanup()
        run_service("service", service_calls(service), products, args.scale, args.scale)
        service.close()
        with stockkeeper.Engine() as engine:
            run_service("engine", engine_calls(engine), products, args.scale, args.scale)
        run_callback(products, args.scale)
        run_batch(products, args.scale)


if __name__ == "__main__":
    main()
