"""Long fuzzing run over every reader: random and mutated real files.

Uses the strategies and the property of ``tests/unit/test_readers_fuzz.py`` (a reader
raises a ``GeointelError`` or returns a ``ReadResult`` with rows read = accepted +
rejected), but collects every distinct failure instead of stopping at the first, and
reports examples run, failures found and time per reader and kind of input.

Run by hand (the test suite runs the same property with a few dozen examples)::

    python benchmarks/fuzz_readers.py --examples 2000
    python benchmarks/fuzz_readers.py --examples 500 --reader deaths --seed 7

Exit status 1 if any failure was found.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fuzz_module() -> ModuleType:
    path = ROOT / "tests" / "unit" / "test_readers_fuzz.py"
    spec = importlib.util.spec_from_file_location("test_readers_fuzz", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    fuzz = _fuzz_module()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000,
                        help="examples per reader and kind of input (default 1000)")
    parser.add_argument("--reader", action="append", choices=sorted(fuzz.BY_NAME),
                        help="only this reader (repeatable; default all)")
    parser.add_argument("--kind", action="append", choices=fuzz.KINDS,
                        help="only this kind of input (repeatable; default both)")
    parser.add_argument("--seed", type=int, default=1,
                        help="hypothesis seed (default 1; the quick tests use a fixed "
                             "derandomised sequence)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # readers warn about every odd row they keep
    readers = [fuzz.BY_NAME[n] for n in args.reader] if args.reader else fuzz.READERS
    kinds = args.kind or list(fuzz.KINDS)

    total_run = 0
    failures = []
    start = time.perf_counter()
    print(f"{'reader':<12} {'kind':<8} {'examples':>8} {'failures':>8} {'seconds':>8}")
    for reader in readers:
        for kind in kinds:
            t0 = time.perf_counter()
            try:
                ran, found = fuzz.fuzz(reader, kind, examples=args.examples, seed=args.seed)
            except pytest.skip.Exception as skip:
                print(f"{reader.name:<12} {kind:<8} skipped: {skip}")
                continue
            total_run += ran
            failures.extend(found)
            print(f"{reader.name:<12} {kind:<8} {ran:>8} {len(found):>8} "
                  f"{time.perf_counter() - t0:>8.1f}", flush=True)
    print(f"\n{total_run} examples, {len(failures)} distinct failure(s), "
          f"{time.perf_counter() - start:.0f} s (seed {args.seed})")
    for failure in failures:
        print(f"\n{failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
