"""Benchmark: each Streamlit page's first render on the embedded sample (target < 3 s warm).

Every page of ``app_pages/`` that ``geointel.auth`` lists is run with
``streamlit.testing.v1.AppTest`` as a role allowed to open it (planner where allowed, else
analyst, else viewer), on the default settings (the synced SET area and the sample in ``data/``).

- **cold**: a fresh Python process per page times its first run: the page's imports and every
  cache it fills (the Area, the analyses) are paid inside the timing; starting the interpreter
  and importing Streamlit are not.
- **warm**: in one process every page is first run once (warm-up; ``st.cache_*`` filled), then a
  fresh ``AppTest`` of each page (a new session: no session state, the process's caches) is
  timed, ``--repeat`` times, reporting the median. That is what a user opening the page on a
  running server waits for.

A run that raises, or shows an exception box, is reported as an error instead of a time.

Run::

    python benchmarks/bench_pages.py                 # all pages, cold and warm
    python benchmarks/bench_pages.py --skip-cold --repeat 5 --page access --page siting

Options: ``--page NAME`` (repeatable), ``--repeat N`` (default 3), ``--skip-cold``,
``--timeout S`` (per run, default 600), ``--json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geointel.auth import CAPABILITIES, pages_for  # noqa: E402

TARGET_S = 3.0
#: Every page the roles table knows, in the order the app lists them.
PAGES = [c.removeprefix("page:") for c in CAPABILITIES if c.startswith("page:")]


def role_for(page: str) -> str:
    """The role a page is benchmarked as: planner where allowed, else analyst, else viewer."""
    for role in ("planner", "analyst", "viewer"):
        if page in pages_for(role):
            return role
    raise ValueError(f"no role may open page {page!r}")


def run_page(page: str, *, timeout: float) -> dict[str, Any]:
    """Time one fresh AppTest run of ``page``; the page's exceptions are reported, not raised."""
    from streamlit.testing.v1 import AppTest

    # AppTest outside a server logs "missing ScriptRunContext" for every cached call: noise.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR)
    role = role_for(page)
    start = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=timeout)
    at.session_state["role"] = role
    at.session_state["user"] = f"bench-{role}"
    try:
        at.run()
    except Exception as err:  # a timeout or a crash of the runner itself
        return {"page": page, "role": role, "seconds": None,
                "error": f"{type(err).__name__}: {err}"}
    seconds = time.perf_counter() - start
    problems = [e.value for e in at.exception] + [e.value for e in at.error]
    return {"page": page, "role": role, "seconds": seconds,
            "error": "; ".join(str(p).splitlines()[0] for p in problems) or None}


def cold(page: str, *, timeout: float) -> dict[str, Any]:
    """``run_page`` in a fresh interpreter (Streamlit imported before the clock starts)."""
    code = ("import json, sys, streamlit.testing.v1; sys.path.insert(0, sys.argv[1]); "
            "from benchmarks.bench_pages import run_page; "
            "print(json.dumps(run_page(sys.argv[2], timeout=float(sys.argv[3]))))")
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT), page, str(timeout)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout + 120)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"page": page, "role": role_for(page), "seconds": None, "error": tail}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def warm(pages: list[str], *, repeat: int, timeout: float) -> list[dict[str, Any]]:
    """Warm every page once, then the median of ``repeat`` fresh runs of each."""
    for page in pages:
        run_page(page, timeout=timeout)
    results = []
    for page in pages:
        runs = [run_page(page, timeout=timeout) for _ in range(repeat)]
        failed = [r for r in runs if r["error"] or r["seconds"] is None]
        if failed:
            results.append(failed[0])
            continue
        times = [r["seconds"] for r in runs]
        results.append({"page": page, "role": runs[0]["role"],
                        "seconds": statistics.median(times), "min": min(times),
                        "max": max(times), "error": None})
    return results


def _fmt(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    if result["error"] or result["seconds"] is None:
        return f"ERROR ({result['error']})"
    return f"{result['seconds']:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", action="append", choices=PAGES, help="page(s) to run")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per page (median)")
    parser.add_argument("--skip-cold", action="store_true", help="only the warm runs")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    pages = [p for p in (args.page or PAGES) if (ROOT / "app_pages" / f"{p}.py").is_file()]
    missing = sorted(set(args.page or PAGES) - set(pages))
    cold_results = {} if args.skip_cold else {p: cold(p, timeout=args.timeout) for p in pages}
    warm_results = {r["page"]: r for r in warm(pages, repeat=args.repeat, timeout=args.timeout)}
    if args.json:
        print(json.dumps({"target_s": TARGET_S, "missing": missing,
                          "cold": cold_results, "warm": warm_results}, indent=2))
    else:
        print(f"{'page':<10} {'role':<8} {'cold':>12} {'warm (median)':>14} {'warm range':>16}"
              f"  < {TARGET_S:g} s")
        for page in pages:
            w = warm_results[page]
            spread = (f"{w['min']:.2f}-{w['max']:.2f} s" if w.get("min") is not None else "")
            ok = "yes" if w["seconds"] is not None and not w["error"] and \
                w["seconds"] < TARGET_S else "NO"
            print(f"{page:<10} {w['role']:<8} {_fmt(cold_results.get(page)):>12} "
                  f"{_fmt(w):>14} {spread:>16}  {ok}")
        if missing:
            print(f"not yet written (no app_pages/<name>.py): {', '.join(missing)}")
    bad = [r for r in warm_results.values()
           if r["error"] or r["seconds"] is None or r["seconds"] >= TARGET_S]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
