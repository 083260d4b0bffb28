"""The ``geointel`` command: verbs mirror the library's modules.

Exit codes: 0 success, 1 a :class:`~geointel.errors.GeointelError` (message on stderr),
2 a usage error. ``--json`` prints a machine-readable summary on stdout; logs and
progress go to stderr.

Each verb is a pair of functions: ``_add_<verb>(subparsers)`` declares its arguments and
sets ``func`` to ``_run_<verb>(args, settings) -> dict``, the summary to print.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from geointel._progress import Progress
from geointel.errors import GeointelError
from geointel.settings import Settings, load_settings

log = logging.getLogger("geointel")
Summary = dict[str, Any]
#: The role each exporting verb runs as (the CLI is the police analyst's and the partnership
#: planner's tool); the exporters check it against geointel.auth like the app's downloads.
CLI_ROLES = {"lines": "analyst", "harm": "analyst", "site": "planner", "access": "planner",
             "brief:operation": "analyst", "brief:board": "planner"}


def _audit(settings: Settings, event: str, *, result: Any = None,
           each: Iterable[Mapping[Any, Any]] | None = None, **detail: Any) -> None:
    """Record what a verb did in the audit log, as the OS login user with role ``cli``.

    ``result`` (a reader's ReadResult) gives a ``data_load`` its file and row counts;
    ``each`` records one event per mapping (e.g. every override applied), ``detail`` added.
    """
    import getpass

    from geointel import audit

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (e.g. a container without one)
        user = f"uid {os.getuid()}"
    if result is not None:
        detail = {"file": ", ".join(result.sources), "rows_read": result.rows_read,
                  "accepted": result.rows_accepted, "rejected": result.rows_rejected, **detail}
    for extra in [{}] if each is None else each:
        audit.record(settings.resolved_audit_file(), event, user=user, role="cli",
                     **detail, **extra)


@contextmanager
def progress_bar(description: str) -> Iterator[Progress]:
    """A rich progress bar on stderr, yielded as a ``progress(done, total, message)`` callback."""
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"),
               TimeElapsedColumn())
    with RichProgress(*columns, console=console, transient=True,
                      disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=None, msg="")

        def update(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total or None, msg=message)

        yield update


def _print_summary(summary: Summary, indent: int = 0) -> None:
    """Human-readable summary: ``key: value`` lines, nested dicts indented under their key."""
    for key, value in summary.items():
        if isinstance(value, dict):
            print(f"{'  ' * indent}{key}:")
            _print_summary(value, indent + 1)
        else:
            print(f"{'  ' * indent}{key}: {value}")


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a value given before the verb from being reset by the verb's parser.
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print a JSON summary on stdout")
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help="settings file (default: geointel.toml)")
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more log output")
    return common


def verb_parser(
    sub: argparse._SubParsersAction, name: str, *, help: str
) -> argparse.ArgumentParser:
    """Add a (sub-)verb that accepts the common options (``--json`` ...) after its name."""
    return sub.add_parser(name, help=help, description=help, parents=[_common_options()])


# --- key -------------------------------------------------------------------------------

def _add_key(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "key", help="manage the pseudonymisation key")
    verbs = p.add_subparsers(dest="key_verb", required=True)
    new = verb_parser(verbs, "new", help="create a new random key file (never overwrites)")
    new.add_argument("--file", type=Path, help="where to write it (default: settings key file)")
    new.set_defaults(func=_run_key_new)


def _run_key_new(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.privacy import key_fingerprint, load_key, write_key

    path = write_key(args.file or settings.resolved_key_file())
    return {"key_file": str(path), "fingerprint": key_fingerprint(load_key(path, env={}))}


# --- sample ----------------------------------------------------------------------------

def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "sample", help="the synthetic partner-data sample (the embedded default)")
    verbs = p.add_subparsers(dest="sample_verb", required=True)
    build = verb_parser(verbs, "build", help="build the SYNTHETIC sample deterministically "
                        "from a seed on the real LSOAs of the area (needs `geointel data sync`)")
    build.add_argument("--seed", type=int, help="random seed (default: settings seed)")
    build.add_argument("--area", action="extend", nargs="+", metavar="CODE",
                       help="local authority code(s), repeatable (default: settings areas)")
    build.add_argument("--out", type=Path, help="output directory (default: data/samples)")
    build.set_defaults(func=_run_sample_build)


def _run_sample_build(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.area import build_area
    from geointel.samples import build_sample

    codes = tuple(args.area) if args.area else settings.areas
    seed = settings.seed if args.seed is None else args.seed
    with progress_bar("area") as progress:
        area = build_area(codes, data_dir=settings.data_dir, progress=progress)
    with progress_bar("sample") as progress:
        result = build_sample(area.lsoas, seed=seed, out_dir=args.out or settings.samples_dir,
                              progress=progress)
    return {"areas": list(codes), **result.summary()}


# --- data ------------------------------------------------------------------------------

def _add_data(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "data", help="obtain the open data and inspect the Area")
    verbs = p.add_subparsers(dest="data_verb", required=True)
    sync = verb_parser(verbs, "sync", help="copy the open data for areas from a mirror, or "
                                           "download it from the official sources")
    sync.add_argument("--area", action="append", metavar="CODE",
                      help="local authority code, repeatable (default: settings areas)")
    sync.add_argument("--mirror", type=Path, metavar="DIR",
                      help="directory laid out like ../shared/data (default: settings mirror, "
                           "else ../shared/data if present, else download)")
    sync.add_argument("--base-url", metavar="URL",
                      help="download from an HTTP server laid out like the mirror instead")
    sync.add_argument("--month", action="append", metavar="YYYY-MM",
                      help="police.uk month, repeatable (default: every month of the mirror)")
    sync.add_argument("--data-dir", type=Path, metavar="DIR",
                      help="where to put the data (default: settings data_dir)")
    sync.set_defaults(func=_run_data_sync)
    area = verb_parser(verbs, "area", help="LSOA count and population per authority of the Area")
    area.add_argument("--area", action="append", metavar="CODE",
                      help="local authority code, repeatable (default: settings areas)")
    area.add_argument("--data-dir", type=Path, metavar="DIR",
                      help="synced data directory (default: settings data_dir)")
    area.set_defaults(func=_run_data_area)


def _run_data_sync(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.errors import ValidationError
    from geointel.opendata import mirror_urls, sync

    if args.mirror is not None and args.base_url:
        raise ValidationError("give --mirror DIR or --base-url URL, not both")
    mirror = args.mirror if args.mirror is not None or args.base_url else (
        settings.resolved_mirror())
    with progress_bar("syncing open data") as progress:
        result = sync(args.area or settings.areas, data_dir=args.data_dir or settings.data_dir,
                      mirror=mirror, urls=mirror_urls(args.base_url) if args.base_url else None,
                      months=args.month, progress=progress)
    return result.summary()


def _run_data_area(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.area import build_area

    data_dir = args.data_dir or settings.data_dir
    with progress_bar("building the Area") as progress:
        area = build_area(args.area or settings.areas, data_dir=data_dir, progress=progress)
    return {"data_dir": str(data_dir), **area.summary()}


# --- score / track ---------------------------------------------------------------------

def _add_score(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "score", help="score and rank county lines with a MoRiLE-style scheme")
    p.add_argument("--lines", type=Path, required=True,
                   help="lines CSV: lines.csv of `geointel lines` (network evidence customers, "
                        "messages, runners, reach_km and handsets), or line_id + evidence / "
                        "score_<item> columns")
    p.add_argument("--intel", type=Path,
                   help="intelligence register CSV; subjects (numbers, pseudonyms or line ids) "
                        "are pseudonymised and mapped to lines through the lines' handsets; "
                        "replaces any intelligence sums in the lines CSV")
    p.add_argument("--scheme", type=Path, required=True, help="scoring scheme YAML")
    p.add_argument("--overrides", type=Path, help="override audit trail CSV")
    p.add_argument("--out", type=Path, help="write the ranked table here (CSV)")
    p.add_argument("--draws", type=int, help="Monte Carlo draws (default: the scheme's)")
    p.add_argument("--allow-missing-evidence", action="store_true",
                   help="score even when the lines CSV lacks a network evidence column the "
                        "scheme reads (its items take defaults; the summary warns)")
    p.set_defaults(func=_run_score)


def _run_score(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.errors import DataFileError
    from geointel.io.contacts import read_intel
    from geointel.privacy import key_fingerprint
    from geointel.scoring import (
        load_scheme,
        missing_evidence,
        rank_lines,
        read_lines,
        read_overrides,
        without_intel,
    )

    scheme = load_scheme(args.scheme)
    key = _current_key(settings, args.lines, needed=args.intel is not None)
    lines = read_lines(args.lines, key=key)
    table = lines.data.drop(columns=["_file", "_line"])
    intel = read_intel(args.intel, key=key) if args.intel and key is not None else None
    if intel is not None:
        table = without_intel(table)
    absent = [c for c in missing_evidence(list(table.columns), scheme)
              if c in scheme.network_evidence]
    if absent and not args.allow_missing_evidence:
        raise DataFileError(args.lines, f"has no network evidence column(s) "
                            f"{', '.join(absent)} that scheme {scheme.name} reads, so every "
                            "line would take their defaults",
                            fix="score the lines.csv written by `geointel lines`, add the "
                                "columns, or pass --allow-missing-evidence")
    overrides = read_overrides(args.overrides, scheme=scheme) if args.overrides else None
    with progress_bar("scoring") as progress:
        ranked = rank_lines(table, scheme, seed=settings.seed,
                            intel=intel.data if intel is not None else None,
                            overrides=overrides, draws=args.draws, progress=progress)
    if intel is not None and key is not None:
        _audit(settings, "data_load", result=intel, kind="intel",
               key_fingerprint=key_fingerprint(key))
    events = ranked.override_events()
    if events:  # each override applied, as the app records one (line, item, old, new, ...)
        _audit(settings, "override", file=str(args.overrides), each=events)
    summary: Summary = {"lines": lines.summary()}
    if intel is not None:
        summary["intel"] = intel.summary()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        # 10 significant digits: the scores' own precision, without binary noise (38.4375...01)
        ranked.table.to_csv(args.out, index=False, float_format="%.10g")
        _audit(settings, "export", what="ranked lines", marking=settings.marking_police,
               file=str(args.out))
        summary["out"] = str(args.out)
        if len(ranked.audit):
            audit_path = args.out.with_name(args.out.stem + "_overrides.csv")
            ranked.audit.to_csv(audit_path, index=False)
            summary["overrides_applied"] = str(audit_path)
    if events:
        summary["override_events"] = events
    summary["marking"] = settings.marking_police
    return {**summary, **ranked.summary()}


def _add_track(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "track", help="Fortress-style tracker: demand and risk before/after "
                                       "an action, displacement and national counts")
    p.add_argument("--line", action="append", required=True,
                   help="line id (repeat for an area: the lines' counts are summed)")
    p.add_argument("--action-date", required=True, help="date of the action, YYYY-MM-DD")
    p.add_argument("--activity", type=Path, required=True,
                   help="weekly activity CSV (line_id, week, deal_messages, ...): activity.csv "
                        "of `geointel lines`")
    p.add_argument("--weeks", type=int, default=8, help="weeks before and after (default 8)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level")
    p.add_argument("--lines", type=Path,
                   help="lines CSV (lines.csv of `geointel lines`): risk before/after, and "
                        "the handsets that map a disruption log's numbers to lines")
    p.add_argument("--scheme", type=Path,
                   help="scoring scheme YAML for risk before/after (default: the shipped "
                        "MoRiLE-style scheme)")
    p.add_argument("--customers", type=Path,
                   help="line customers CSV (line_id, customer, week): line_customers.csv of "
                        "`geointel lines`, for displacement")
    p.add_argument("--disruptions", type=Path,
                   help="disruption log CSV, for national counts; lines named by line_id, or "
                        "by number in a 'line' column (pseudonymised and mapped to detected "
                        "lines through --lines)")
    p.add_argument("--offences", type=Path, nargs="*", metavar="CSV",
                   help="drug offences in the line's footprint, monthly (police.uk publishes "
                        "months): police.uk street files or folders; the option alone uses "
                        "the synced police_uk folder. Needs --footprints")
    p.add_argument("--footprints", type=Path, metavar="CSV",
                   help="footprints.csv of `geointel lines` (default: beside --activity)")
    p.add_argument("--exclude", action="append", default=[], metavar="LINE",
                   help="a line not to compare with (e.g. disrupted in the same weeks); "
                        "repeatable. Lines selling in the tracked line's authority are left "
                        "out of the comparison automatically when --lines gives importer_la")
    p.set_defaults(func=_run_track)


def _run_track(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.errors import ValidationError
    from geointel.scoring import (
        DEFAULT_SCHEME,
        displacement,
        line_of_handsets,
        load_scheme,
        national_counts,
        read_activity,
        read_disruption_log,
        read_line_customers,
        read_lines,
        track,
    )

    if args.scheme is not None and args.lines is None:
        raise ValidationError("track: --scheme needs --lines (risk before/after scores the "
                              "lines' evidence); give --lines too or leave out --scheme")
    footprints_path = None
    if args.offences is not None:
        footprints_path = args.footprints or args.activity.with_name("footprints.csv")
    key = _current_key(settings, args.activity, args.lines, footprints_path,
                       needed=bool(args.customers or (args.disruptions and args.lines)))
    activity = read_activity(args.activity, key=key)
    lines = (read_lines(args.lines, key=key).data.drop(columns=["_file", "_line"])
             if args.lines else None)
    scheme = load_scheme(args.scheme or DEFAULT_SCHEME) if lines is not None else None
    offences = None
    if footprints_path is not None:
        offences = _footprint_offences(args, settings, footprints_path, key)
    result = track(activity.data, line_id=args.line, action_date=args.action_date,
                   weeks=args.weeks, alpha=args.alpha, lines=lines, scheme=scheme,
                   exclude=args.exclude, offences=offences)
    summary: Summary = {"activity": activity.summary(), **result.summary()}
    if args.customers and key is not None:
        customers = read_line_customers(args.customers, key=key)
        _audit(settings, "data_load", result=customers, kind="line customers")
        moved = displacement(customers.data, line_id=args.line[0],
                             action_date=args.action_date, weeks=args.weeks)
        summary["displacement"] = [
            {**rec, "first_seen": str(rec["first_seen"].date()),
             "share_of_old_customers": round(rec["share_of_old_customers"], 3)}
            for rec in moved.to_dict("records")]
    if args.disruptions:
        line_of = line_of_handsets(lines) if lines is not None else None
        log_ = read_disruption_log(args.disruptions, key=key if line_of is not None else None,
                                   line_of=line_of)
        _audit(settings, "data_load", result=log_, kind="disruption log")
        summary["disruption_log"] = log_.summary()
        summary["national_counts"] = national_counts(log_.data)
        summary["disruptions_per_line"] = {
            str(k): int(v) for k, v in log_.data["line_id"].value_counts().sort_index().items()}
    return summary


def _footprint_offences(args: argparse.Namespace, settings: Settings, path: Path,
                        key: bytes | None) -> Any:
    """Monthly police.uk drug offences in the tracked lines' footprint and in the rest."""
    from geointel.errors import DataFileError
    from geointel.io.police_uk import read_police_uk
    from geointel.scoring import check_key, footprint_offences

    if not path.is_file():
        raise DataFileError(path, "does not exist (the lines' footprints, for drug offences)",
                            fix="run `geointel lines` with LSOA boundaries (the synced ones "
                                "are used by default) or pass --footprints")
    import pandas as pd

    footprints = check_key(pd.read_csv(path, dtype={"lsoa": str}), key, what=str(path))
    police = read_police_uk(_police_paths(args.offences, settings))
    log.info("police.uk: %d rows read, %d accepted", police.rows_read, police.rows_accepted)
    return footprint_offences(police.data, footprints, line_id=args.line)


# --- site ------------------------------------------------------------------------------

def _add_site(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "site", help="choose new satellite clinic / naloxone point sites "
                                      "(maximal covering, set covering or p-median), keeping "
                                      "existing services open")
    p.add_argument("--model", choices=["mclp", "lscp", "pmedian"], default="mclp",
                   help="mclp: most weight within the threshold with p sites (default); "
                        "lscp: fewest sites to cover --target-share; pmedian: least distance")
    p.add_argument("-p", type=int, default=3, dest="p",
                   help="number of NEW sites (mclp, pmedian; existing ones are extra; default 3)")
    p.add_argument("--threshold", type=float, default=1600.0, metavar="METRES",
                   help="coverage distance in metres (default 1600, about 20 minutes' walk)")
    p.add_argument("--target-share", type=float, default=None, metavar="SHARE",
                   help="lscp: share of the weight to cover, 0-1 (default: everyone within "
                        "--threshold of some candidate or existing site, i.e. the reachable "
                        "share; 1 fails if any LSOA is out of reach)")
    p.add_argument("--candidates", type=Path, metavar="CSV",
                   help="candidate sites: site list, services register or NaPTAN Stops.csv "
                        "(default: the sample's candidates.csv)")
    p.add_argument("--existing", type=Path, metavar="CSV",
                   help="existing services, fixed open (default: the sample's services.csv)")
    p.add_argument("--existing-kind", action="append", metavar="KIND",
                   help="keep only existing services of this kind, repeatable "
                        "(e.g. treatment_hub, satellite)")
    p.add_argument("--no-existing", action="store_true", help="ignore existing services")
    p.add_argument("--weight", choices=["population", "need"], default="population",
                   help="demand weight per LSOA: residents, or residents x need index (drug "
                        "offence rate from the police.uk data, deaths from --deaths, "
                        "deprivation, distance to the existing services; written to "
                        "need_index.csv with each component's contribution)")
    p.add_argument("--recipe", type=Path, metavar="YAML",
                   help="need-index recipe for --weight need (default models/need_index.yaml)")
    p.add_argument("--police", type=Path, nargs="+", metavar="CSV",
                   help="--weight need: police.uk street files or folders for the drug offence "
                        "rate (default: the synced police_uk; skipped if there are none)")
    p.add_argument("--deaths", type=Path, metavar="CSV",
                   help="--weight need: deaths/incidents register for the drug deaths "
                        "component (people in 'death' rows; skipped if not given)")
    p.add_argument("--area", action="append", metavar="CODE",
                   help="local authority code, repeatable (default: settings areas)")
    p.add_argument("--solver", choices=["cbc", "heuristic"], default="cbc",
                   help="cbc: exact MILP within the time limit (default); heuristic: greedy + "
                        "Lagrangian bound")
    p.add_argument("--time-limit", type=float, default=60.0, metavar="SECONDS")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output directory (default: out/site)")
    p.set_defaults(func=_run_site)


def _run_site(args: argparse.Namespace, settings: Settings) -> Summary:
    import pandas as pd

    from geointel.area import area_from_settings
    from geointel.errors import ValidationError
    from geointel.opendata import OGL_ATTRIBUTION
    from geointel.settings import PROJECT_ROOT
    from geointel.siting import export_result, need_index, read_sites, site_layers

    candidates = read_sites(args.candidates or settings.samples_dir / "candidates.csv")
    _audit(settings, "data_load", result=candidates, kind="candidate sites")
    existing = None
    if not args.no_existing:
        existing = read_sites(args.existing or settings.samples_dir / "services.csv")
        _audit(settings, "data_load", result=existing, kind="existing services")
    reads: Summary = {"candidates": candidates.summary()}
    if existing is not None:
        reads["existing"] = existing.summary()
    need_layers: dict[str, Any] = {}
    need_summary: Summary = {}
    with progress_bar("siting") as progress:
        area = area_from_settings(settings, args.area, progress=progress)
        demand = area.centroids()
        demand["weight"] = demand["population"].fillna(0).astype(float)
        ex = None
        if existing is not None:
            ex = existing.data
            if args.existing_kind:
                ex = ex[ex["kind"].isin(args.existing_kind)]
        if args.weight == "need":
            recipe = args.recipe or PROJECT_ROOT / "models/need_index.yaml"
            table, why_not = _need_inputs(args, settings, area.lsoas, ex, reads,
                                          progress=progress)
            need = need_index(table, recipe)
            if (need["need_index"] < 0).any():
                raise ValidationError("--weight need: the recipe gives negative need values "
                                      "(z-scores); use minmax or rank normalisation")
            index = pd.Series(need["need_index"].to_numpy(), index=area.lsoas["lsoa_code"])
            demand["weight"] *= demand["lsoa_code"].map(index).fillna(0.0).to_numpy()
            measures = [c for c in ("population", "imd_decile", "drug_offence_rate",
                                    "drug_death_rate", "dist_any") if c in table.columns]
            layer = table[["lsoa_code", "lsoa_name", "lad_name", *measures, "geometry"]].join(
                need.drop(columns=["lsoa_code"], errors="ignore"))
            layer["demand_weight"] = layer["lsoa_code"].map(
                demand.set_index("lsoa_code")["weight"]).to_numpy()
            need_layers["need_index"] = layer
            contributions = [c for c in need.columns if c.startswith("contribution_")]
            need_summary = {"need_index": {
                "recipe": str(recipe),
                "used": {k: round(v, 4) for k, v in need.attrs["used"].items()},
                "skipped": {k: f"no column {col!r}: {why_not.get(col, 'not available')}"
                            for k, col in need.attrs["skipped_columns"].items()},
                "mean_contribution": {c.removeprefix("contribution_"):
                                      round(float(need[c].mean()), 4) for c in contributions},
                "mean_index": round(float(need["need_index"].mean()), 4)}}
        result = site_layers(demand, candidates.data, ex, model=args.model,
                             weight_col="weight", p=args.p, threshold=args.threshold,
                             target_share=args.target_share, demand_id_col="lsoa_code",
                             site_id_col="site_id", solver=args.solver,
                             time_limit=args.time_limit, progress=progress)
    sites = pd.concat([candidates.data] + ([ex] if ex is not None else []), ignore_index=True)
    files = export_result(result, demand, sites, args.out or Path("out") / "site",
                          demand_id_col="lsoa_code", marking=settings.marking_partner,
                          attribution=OGL_ATTRIBUTION, role=CLI_ROLES["site"],
                          extra_layers=need_layers, summary=need_summary)
    _audit(settings, "export", what="siting outputs", marking=settings.marking_partner,
           files=files)
    target: Summary = {}
    if args.model == "lscp":
        target = {"target_share": "everyone within reach" if args.target_share is None
                  else args.target_share}
    return {**result.summary(), **target, "weight": args.weight, **need_summary,
            "inputs": reads, "files": files}


def _need_inputs(args: argparse.Namespace, settings: Settings, lsoas: Any, existing: Any,
                 reads: Summary, *, progress: Progress) -> tuple[Any, dict[str, str]]:
    """The LSOA table with the need recipe's measures (siting.need_table) from what the
    CLI has: police.uk drug offences, the --deaths register, the existing services; and
    why each measure it could not make is missing (column -> reason)."""
    from geointel.siting import need_table

    offences, deaths, missing = _need_sources(args, settings, reads, progress=progress)
    why_not: dict[str, str] = {
        "unmet_need": "the CLI has no estimate of unmet need; add an unmet_need column in "
                      "your own recipe's input or drop the component"}
    if "offences" in missing:
        why_not["drug_offence_rate"] = missing["offences"]
    if "deaths" in missing:
        why_not["drug_death_rate"] = missing["deaths"]
    if existing is None or not len(existing):
        why_not["dist_any"] = "no existing services (--no-existing or no --existing-kind match)"
    services = existing if existing is not None and len(existing) else None
    return need_table(lsoas, offences=offences, deaths=deaths, services=services,
                      suppression_threshold=settings.suppression_threshold), why_not


def _need_sources(args: argparse.Namespace, settings: Settings, reads: Summary, *,
                  progress: Progress, deaths_default: Path | None = None
                  ) -> tuple[Any, Any, dict[str, str]]:
    """The police.uk offences (--police, else the synced files; --crime-type and
    --start..--end where the verb has them; Drugs by default) and the deaths register
    (--deaths, else ``deaths_default`` if it exists), each read once and audited; and why
    either is missing (``offences``/``deaths`` -> reason)."""
    from geointel import harm
    from geointel.errors import MissingDataError
    from geointel.io.deaths import read_deaths
    from geointel.io.police_uk import read_police_uk, select_crime_types

    offences = deaths = None
    missing: dict[str, str] = {}
    start, end = getattr(args, "start", None), getattr(args, "end", None)
    try:
        police = read_police_uk(_police_paths(args.police, settings), progress=progress)
        reads["police"] = police.summary()
        offences = harm.select_period(select_crime_types(
            police.data, getattr(args, "crime_type", None) or ["Drugs"]), start=start, end=end)
    except MissingDataError as err:
        missing["offences"] = f"no police.uk data ({err})"
    path = args.deaths or deaths_default
    if path is not None and (args.deaths or path.is_file()):
        register = read_deaths(path)
        _audit(settings, "data_load", result=register, kind="deaths")
        reads["deaths"] = register.summary()
        deaths = harm.select_register(register.data, start=start, end=end)
    else:
        missing["deaths"] = ("no --deaths register given" if deaths_default is None else
                             "no deaths register (--deaths) and no sample deaths.csv")
    return offences, deaths, missing


# --- lines -----------------------------------------------------------------------------

def _add_lines(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "lines", help="county lines from contact records: deal lines, "
                    "rebrands, holders, runners, groups, footprints, disruption")
    p.add_argument("--contacts", type=Path, nargs="+", required=True,
                   help="contact record files (CSV or Parquet)")
    p.add_argument("--intel", type=Path, help="line intelligence register (CSV)")
    p.add_argument("--boundaries", type=Path, nargs="*",
                   help="LSOA boundary files for footprints (GeoJSON/GeoPackage; default: the "
                        "synced LSOA boundaries in the data directory, if any; give the option "
                        "with no file for no footprints)")
    p.add_argument("--out", type=Path, default=Path("lines_out"), help="output directory")
    p.add_argument("--method", choices=("score", "model"), default="score",
                   help="deal-line detection: transparent score or the trained classifier")
    p.add_argument("--previous", type=Path, metavar="CSV",
                   help="lines.csv of an earlier run: a chain sharing handsets with a previous "
                        "line keeps its id (carried forward), so disruption logs, overrides "
                        "and tracking keyed by line id stay valid; writes carried.csv")
    p.set_defaults(func=_run_lines)


def _current_key(settings: Settings, *paths: Path | None, needed: bool = False
                 ) -> bytes | None:
    """The pseudonymisation key, loaded when ``needed`` or when any of ``paths`` carries a key
    fingerprint (a table written by ``geointel lines``), so that such tables are checked
    against it; ``None`` otherwise (nothing pseudonymised is combined)."""
    from geointel.privacy import load_key
    from geointel.scoring import carried_fingerprint

    if needed or any(p is not None and carried_fingerprint(p) for p in paths):
        return load_key(settings.resolved_key_file())
    return None


def _lsoa_boundaries(given: list[Path] | None, settings: Settings) -> list[Path]:
    """The boundary files named, else the synced LSOA boundaries of the data dir (if any)."""
    if given is not None:
        return given
    found = sorted((settings.data_dir / "boundaries" / "lsoa11").glob("*.geojson"))
    if found:
        log.info("footprints on the synced LSOA boundaries: %s",
                 ", ".join(p.name for p in found))
    return found


def _run_lines(args: argparse.Namespace, settings: Settings) -> Summary:
    import pandas as pd

    from geointel.io.contacts import read_contacts, read_intel
    from geointel.network.export import write_outputs
    from geointel.network.pipeline import analyse_lines
    from geointel.privacy import key_fingerprint, load_key
    from geointel.scoring import read_lines

    key = load_key(settings.resolved_key_file())
    fingerprint = key_fingerprint(key)
    previous = read_lines(args.previous, key=key) if args.previous else None
    with progress_bar("lines") as progress:
        contacts = read_contacts(args.contacts, key=key, progress=progress)
        _audit(settings, "data_load", result=contacts, kind="contacts",
               key_fingerprint=fingerprint)
        intel = read_intel(args.intel, key=key) if args.intel else None
        if intel is not None:
            _audit(settings, "data_load", result=intel, kind="intel",
                   key_fingerprint=fingerprint)
        lsoas = None
        boundaries = _lsoa_boundaries(args.boundaries, settings)
        if boundaries:
            from geointel.io.boundaries import read_boundaries

            parts = [read_boundaries(b).data for b in boundaries]
            lsoas = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        result = analyse_lines(contacts.data, intel=intel.data if intel else None,
                               lsoas=lsoas, method=args.method, seed=settings.seed,
                               previous=previous.data if previous is not None else None,
                               progress=progress)
    paths = write_outputs(result, args.out, key_fingerprint=fingerprint,
                          marking=settings.marking_police, role=CLI_ROLES["lines"])
    _audit(settings, "export", what="county lines outputs", marking=settings.marking_police,
           files={name: str(path) for name, path in paths.items()})
    summary: Summary = {"contacts": contacts.summary()}
    if intel is not None:
        summary["intel"] = intel.summary()
    if previous is not None:
        summary["previous"] = previous.summary()
    summary["key_fingerprint"] = key_fingerprint(key)
    summary["boundaries"] = [str(b) for b in boundaries]
    summary.update(result.summary())
    summary["outputs"] = {name: str(path) for name, path in paths.items()}
    return summary


# --- harm / access ---------------------------------------------------------------------

def _police_paths(given: list[Path] | None, settings: Settings) -> list[Path]:
    """The police.uk files named, else every ``*-street.csv`` synced into the data dir."""
    from geointel.errors import MissingDataError

    if given:
        return given
    found = sorted((settings.data_dir / "police_uk").glob("*-street.csv"))
    if not found:
        raise MissingDataError(
            f"no police.uk files in {settings.data_dir / 'police_uk'}; run `geointel data "
            "sync` or pass --police FILE")
    return found


#: The harm kernel density layer leaves out cells below this share of the peak density.
KDE_MIN_SHARE = 0.001


def _add_harm(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "harm", help="drug harm per LSOA/MSOA/ward/authority: counts, rates "
                                      "with exact intervals, deprivation, hotspots, transport")
    p.add_argument("--police", type=Path, nargs="+", metavar="CSV",
                   help="police.uk street files or folders (default: the synced police_uk)")
    p.add_argument("--crime-type", action="append", metavar="TYPE",
                   help="police.uk crime type, repeatable (default: Drugs)")
    p.add_argument("--start", metavar="YYYY-MM", help="first month (default: the first)")
    p.add_argument("--end", metavar="YYYY-MM", help="last month (default: the last)")
    p.add_argument("--area", action="append", metavar="CODE",
                   help="local authority code, repeatable (default: settings areas)")
    p.add_argument("--permutations", type=int, default=999,
                   help="permutations for Gi*, LISA and the emerging hot spots (default "
                        "999). The smallest two-sided p is 2/(permutations+1) = 0.002 at "
                        "999, so with false-discovery-rate control over ~1,000 LSOAs LISA "
                        "may find no significant area at all; raise this (e.g. 9999) "
                        "before concluding there are none")
    p.add_argument("--no-fdr", action="store_true",
                   help="no false-discovery-rate control of the hotspot tests")
    p.add_argument("--kde-bandwidth", type=float, default=500.0, metavar="METRES",
                   help="kernel density bandwidth (Gaussian sd; default 500 m)")
    p.add_argument("--kde-cell", type=float, default=250.0, metavar="METRES",
                   help="kernel density grid cell (default 250 m)")
    p.add_argument("--min-cluster-size", type=int, default=10, metavar="N",
                   help="HDBSCAN: fewest offences in a point cluster (default 10)")
    p.add_argument("--stops", type=Path, nargs="+", metavar="CSV",
                   help="NaPTAN Stops.csv files: offences near stops vs the expected share")
    p.add_argument("--distance", type=float, default=200.0, metavar="METRES",
                   help="'near a stop' distance (default 200 m)")
    p.add_argument("--deaths", type=Path, metavar="CSV",
                   help="deaths/incidents register: people per 100,000 per LSOA, MSOA, ward "
                        "and authority for --start..--end, each row counting its 'count' "
                        "(small numbers suppressed)")
    p.add_argument("--outcome", action="append", metavar="CATEGORY",
                   help="register category counted from --deaths, repeatable (default: "
                        "death; e.g. non_fatal_overdose)")
    p.add_argument("--out", type=Path, metavar="DIR", help="output directory (default out/harm)")
    p.set_defaults(func=_run_harm)


def _run_harm(args: argparse.Namespace, settings: Settings) -> Summary:
    import geopandas as gpd
    import pandas as pd

    from geointel import harm, hotspots
    from geointel.area import area_from_settings
    from geointel.io.police_uk import read_police_uk, select_crime_types
    from geointel.opendata import OGL_ATTRIBUTION

    types = args.crime_type or ["Drugs"]
    layers: dict[str, gpd.GeoDataFrame] = {}
    with progress_bar("harm") as progress:
        area = area_from_settings(settings, args.area, progress=progress)
        police = read_police_uk(_police_paths(args.police, settings), progress=progress)
        chosen = harm.select_period(select_crime_types(police.data, types),
                                    start=args.start, end=args.end)
        lsoas = area.lsoas
        tables = {f"rates_{level}": harm.rate_table(chosen, lsoas, level=level)
                  for level in ("lsoa", "msoa", "ward", "lad")}
        counts = harm.count_by_area(chosen, lsoas)
        deciles = harm.by_imd_decile(counts, lsoas)
        deprivation = harm.deprivation_summary(counts, lsoas)
        tables |= {"imd_deciles": deciles,
                   "concentration_curve": harm.concentration_curve(counts, lsoas),
                   "code_disagreements": harm.code_disagreements(chosen, lsoas)}
        layer = lsoas[["lsoa_code", "lsoa_name", "ward_name", "lad_name", "population",
                       "imd_decile", "geometry"]].merge(
            tables["rates_lsoa"].drop(columns=["name", "population", "lsoas"]).rename(
                columns={"code": "lsoa_code"}), on="lsoa_code", how="left")
        layer["rate"] = layer["rate"].fillna(0.0)
        w = hotspots.spatial_weights(layer)
        layer = layer.join(hotspots.getis_ord(layer, "rate", seed=settings.seed, weights=w,
                                              permutations=args.permutations,
                                              fdr=not args.no_fdr))
        layer = layer.join(hotspots.local_moran(layer, "rate", seed=settings.seed, weights=w,
                                                permutations=args.permutations,
                                                fdr=not args.no_fdr))
        # trends: monthly counts per LSOA and the emerging hot spot classes over them
        series = hotspots.monthly_series(chosen, layer["lsoa_code"])
        tables["monthly_lsoa"] = series.reset_index()
        emerging: Summary = {"months": len(series.columns),
                             "first": str(series.columns[0]), "last": str(series.columns[-1])}
        if len(series.columns) >= 3:
            classes = hotspots.emerging_hotspots(
                layer, series, seed=settings.seed, weights=w, permutations=args.permutations,
                fdr=not args.no_fdr, progress=progress)
            emerging_layer = layer[["lsoa_code", "lsoa_name", "ward_name", "lad_name",
                                    "geometry"]].join(classes)
            layers["emerging"] = emerging_layer
            tables["emerging_lsoa"] = pd.DataFrame(emerging_layer.drop(columns="geometry"))
            found = classes["pattern"].value_counts()
            emerging["patterns"] = {k: int(found.get(k, 0)) for k in hotspots.EMERGING}
        else:
            emerging["patterns"] = None
            emerging["note"] = ("emerging hot spots need at least 3 months; widen "
                                "--start/--end")
        # point hotspots: kernel density and HDBSCAN clusters of the offences in the Area
        points = harm.points_in_area(chosen, lsoas)
        point_summary: Summary = {"points": len(points)}
        if len(points):
            kde = hotspots.kde_surface(points, bandwidth=args.kde_bandwidth,
                                       cell=args.kde_cell, bounds=tuple(lsoas.total_bounds),
                                       min_share=KDE_MIN_SHARE)
            layers["kde"] = kde
            _, clusters = hotspots.hdbscan_clusters(points,
                                                    min_cluster_size=args.min_cluster_size)
            layers["clusters"] = clusters
            tables["clusters"] = pd.DataFrame(clusters.drop(columns="geometry"))
            point_summary |= {
                "kde_bandwidth_m": args.kde_bandwidth, "kde_cell_m": args.kde_cell,
                "kde_cells": len(kde), "kde_cells_left_out_below_share_of_peak":
                KDE_MIN_SHARE,
                "kde_max_per_km2": round(float(kde["density_km2"].max()), 3),
                "clusters": len(clusters),
                "points_in_clusters": int(clusters["points"].sum()),
                "min_cluster_size": args.min_cluster_size}
        summary: Summary = {"police": police.summary(), "crime_types": types,
                            "offences_in_area": int(counts["count"].sum()),
                            "offences_outside_area": int(len(chosen) - counts["count"].sum()),
                            "point_code_disagreements": len(tables["code_disagreements"]),
                            "hotspot_bins": {str(k): int(v) for k, v in
                                             layer["gi_bin"].value_counts().sort_index().items()},
                            "lisa": {str(k): int(v) for k, v in
                                     layer["lisa_label"].value_counts().items()},
                            "emerging": emerging, "point_hotspots": point_summary,
                            "deprivation": deprivation}
        wards = tables["rates_ward"]
        summary["top_wards"] = wards.loc[wards["rank"] <= 5, "name"].tolist()
        if args.stops:
            from geointel.io.naptan import read_naptan

            stops = read_naptan(args.stops)
            summary["stops"] = stops.summary()
            summary["transport"] = harm.near_transport(chosen, stops.data, lsoas,
                                                       distance=args.distance)
            tables["stops"] = harm.station_counts(chosen, stops.data, distance=args.distance)
        if args.deaths:
            from geointel.io.deaths import read_deaths

            deaths = read_deaths(args.deaths)
            _audit(settings, "data_load", result=deaths, kind="deaths")
            outcome = args.outcome or [harm.DEATH]
            # one level only (harm.DEATHS_LEVEL): two levels could be differenced
            table = harm.partner_deaths(deaths.data, lsoas, outcome=outcome,
                                        start=args.start, end=args.end,
                                        threshold=settings.suppression_threshold)
            tables[f"deaths_{harm.DEATHS_LEVEL}"] = table
            summary["deaths"] = {**deaths.summary(), "outcome": outcome,
                                 "period": [args.start, args.end],
                                 "level": harm.DEATHS_LEVEL,
                                 # null: withheld, it would give hidden counts away
                                 "people_in_area": table.attrs["total"]}
    files = harm.write_outputs(args.out or Path("out") / "harm", stem="harm",
                               layers={"lsoa": layer, **layers}, tables=tables,
                               summary=summary,
                               marking=settings.marking_partner, attribution=OGL_ATTRIBUTION,
                               role=CLI_ROLES["harm"])
    _audit(settings, "export", what="harm outputs", marking=settings.marking_partner, files=files)
    return {**summary, "wards": len(wards), "files": files,
            "marking": settings.marking_partner}


def _add_access(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "access", help="distance from every LSOA to naloxone, pharmacies and "
                                        "treatment; coverage by time of week; gap areas")
    p.add_argument("--services", type=Path, metavar="CSV",
                   help="services register (default: the sample's services.csv)")
    p.add_argument("--threshold", type=float, metavar="METRES",
                   help="coverage distance along the route (default: --walk-minutes)")
    p.add_argument("--walk-minutes", type=float, default=20.0,
                   help="coverage as minutes of walking (default 20)")
    p.add_argument("--speed", type=float, default=4.8, metavar="KMH",
                   help="walking speed for --walk-minutes (default 4.8 km/h)")
    p.add_argument("--detour", type=float, default=1.3,
                   help="route length / straight line (default 1.3)")
    p.add_argument("--network", type=Path, metavar="FILE",
                   help="road network for distances along it instead: GraphML (osmnx."
                        "save_graphml) or an OpenStreetMap XML extract (.osm, .osm.xml, "
                        ".osm.bz2/.gz; needs the osm extra); convert .osm.pbf first with "
                        "`osmium cat x.osm.pbf -o x.osm`. One-way streets are walked both ways")
    p.add_argument("--police", type=Path, nargs="+", metavar="CSV",
                   help="police.uk street files or folders for the 'offences' need weight "
                        "(default: the synced police_uk; left out if there are none)")
    p.add_argument("--crime-type", action="append", metavar="TYPE",
                   help="police.uk crime type counted as offences, repeatable (default: Drugs)")
    p.add_argument("--deaths", type=Path, metavar="CSV",
                   help="deaths/incidents register for the 'deaths' need weight: people in "
                        "'death' rows (default: the sample's deaths.csv if present)")
    p.add_argument("--start", metavar="YYYY-MM",
                   help="first month of offences and deaths counted (default: the first)")
    p.add_argument("--end", metavar="YYYY-MM",
                   help="last month of offences and deaths counted (default: the last)")
    p.add_argument("--area", action="append", metavar="CODE",
                   help="local authority code, repeatable (default: settings areas)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output directory (default out/access)")
    p.set_defaults(func=_run_access)


def _run_access(args: argparse.Namespace, settings: Settings) -> Summary:
    import pandas as pd

    from geointel import access
    from geointel.area import area_from_settings
    from geointel.harm import write_outputs
    from geointel.io.services import read_services
    from geointel.opendata import OGL_ATTRIBUTION

    services = read_services(args.services or settings.samples_dir / "services.csv")
    _audit(settings, "data_load", result=services, kind="services")
    network = access.load_road_network(args.network) if args.network else None
    threshold = (args.threshold if args.threshold is not None
                 else access.walking_threshold_m(args.walk_minutes, speed_kmh=args.speed))
    weights = ["population", "imd_weighted_population", "lsoas"]
    reads: Summary = {"services": services.summary()}
    with progress_bar("access") as progress:
        area = area_from_settings(settings, args.area, progress=progress)
        counts, left_out = _access_need_counts(args, settings, area.lsoas, reads,
                                               progress=progress)
        weights += list(counts)
        lsoas = access.need_weights(area.lsoas, counts)
        table = access.lsoa_access(lsoas, services.data, detour=args.detour, network=network)
        cov = access.coverage(table, threshold_m=threshold, weights=weights)
        by_time = access.coverage_by_time(lsoas, services.data, threshold_m=threshold,
                                          weights=weights, detour=args.detour,
                                          network=network, progress=progress)
        gaps = access.gap_areas(table, threshold_m=threshold)
    # deaths are small numbers: per-LSOA counts never go out, and their coverage only as
    # shares that say no small number of people within reach or beyond it
    cov, by_time = (access.suppress_small_weights(t, weights=["deaths"],
                                                  threshold=settings.suppression_threshold)
                    for t in (cov, by_time))
    population = cov.loc[cov["weight"] == "population"]
    timed = by_time.loc[(by_time["kind"] == "any") & (by_time["weight"] == "population")]
    need = cov.loc[cov["kind"] == "any"]
    summary: Summary = {
        **reads,
        "threshold_m": round(float(threshold), 1),
        "distances": "road network" if network is not None else f"straight x {args.detour}",
        "coverage_population": dict(zip(population["kind"].tolist(),
                                        population["share"].round(4).tolist(), strict=True)),
        # null: withheld (a small number of people within reach or beyond it)
        "coverage_any_by_weight": {w: None if pd.isna(v) else round(float(v), 4)
                                   for w, v in zip(need["weight"], need["share"], strict=True)},
        "weights_left_out": left_out,
        "coverage_by_time_any": dict(zip(timed["window"].tolist(),
                                         timed["share"].round(4).tolist(), strict=True)),
        "gap_lsoas": len(gaps),
        "gap_population": int(gaps["population"].sum()),
        "top_gaps": gaps["lsoa_code"].head(5).tolist(),
    }
    files = write_outputs(args.out or Path("out") / "access", stem="access",
                          layers={"lsoa_access": table.drop(columns="deaths",
                                                            errors="ignore")},
                          tables={"coverage": cov, "coverage_by_time": by_time, "gaps": gaps},
                          summary=summary, marking=settings.marking_partner,
                          attribution=OGL_ATTRIBUTION, role=CLI_ROLES["access"],
                          capability="export:access")
    _audit(settings, "export", what="access outputs", marking=settings.marking_partner,
           files=files)
    return {**summary, "files": files, "marking": settings.marking_partner}


def _access_need_counts(args: argparse.Namespace, settings: Settings, lsoas: Any,
                        reads: Summary, *, progress: Progress) -> tuple[dict[str, Any],
                                                                        dict[str, str]]:
    """Per-LSOA need counts for access coverage: ``offences`` (police.uk, --crime-type,
    --start..--end) and ``deaths`` (people in a register's death rows, same period); and
    why any of them is left out."""
    from geointel import harm

    offences, deaths, left_out = _need_sources(
        args, settings, reads, progress=progress,
        deaths_default=settings.samples_dir / "deaths.csv")
    counts: dict[str, Any] = {}
    if offences is not None:
        counts["offences"] = harm.count_by_area(offences, lsoas).set_index("code")["count"]
    if deaths is not None:
        counts["deaths"] = harm.register_counts(deaths, lsoas).set_index("code")["count"]
    return counts, left_out


# --- brief -----------------------------------------------------------------------------

def _add_brief(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "brief", help="a briefing pack (A4 landscape PDF, offline HTML map, "
                    "PNG, GeoPackage/GeoJSON/CSV) for an operation (police, ranked lines) or "
                    "a partnership board (partner: harm, access gaps, siting)")
    p.add_argument("--kind", choices=("operation", "board"), required=True,
                   help="operation: the police pack (as analyst); board: the partner pack "
                        "(as planner, small numbers suppressed)")
    p.add_argument("--area", action="extend", nargs="+", metavar="CODE",
                   help="local authority code(s), repeatable (default: settings areas)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output directory (default out/brief-<kind>)")
    p.set_defaults(func=_run_brief)


def _run_brief(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.briefing import board_pack, operation_pack, page_count, write_pack

    role = CLI_ROLES[f"brief:{args.kind}"]
    build = operation_pack if args.kind == "operation" else board_pack
    with progress_bar(f"brief {args.kind}") as progress:
        pack = build(settings, codes=args.area, progress=progress)
    out = args.out or Path("out") / f"brief-{args.kind}"
    paths = write_pack(pack, out, role=role)
    _audit(settings, "export", what=f"{args.kind} briefing pack", marking=pack.marking,
           files={name: str(path) for name, path in paths.items()})
    summary: Summary = {"kind": args.kind, "title": pack.title, "marking": pack.marking,
                        "role": role, "date": pack.date, "pages": page_count(pack),
                        "key_figures": dict(pack.key_figures)}
    if args.kind == "operation":
        ranked = pack.tables["ranked_lines"]
        summary["lines_ranked"] = int(dict(pack.key_figures)["Lines ranked"].replace(",", ""))
        summary["ranked_lines"] = ranked["line_id"].tolist()
    summary["files"] = {name: str(path) for name, path in sorted(paths.items())}
    return summary


# --- users -----------------------------------------------------------------------------

NEW_PASSWORD_ENV = "GEOINTEL_NEW_PASSWORD"


def _add_users(sub: argparse._SubParsersAction) -> None:
    p = verb_parser(sub, "users", help="app accounts: local users (argon2id-hashed passwords) "
                                       "and OpenID Connect identities mapped to roles")
    verbs = p.add_subparsers(dest="users_verb", required=True)
    add = verb_parser(verbs, "add", help="add a local account; the password is read from a "
                      f"prompt, or from {NEW_PASSWORD_ENV} for scripts")
    add.add_argument("name", help="user name")
    add.add_argument("--role", required=True, choices=["analyst", "planner", "viewer"])
    add.add_argument("--replace", action="store_true",
                     help="replace an existing account's role and password")
    add.set_defaults(func=_run_users_add)
    demo = verb_parser(verbs, "demo", help="create one account per role with a random password, "
                                           "printed once (refuses if they exist)")
    demo.set_defaults(func=_run_users_demo)
    listing = verb_parser(verbs, "list", help="list accounts and mapped identities (no hashes)")
    listing.set_defaults(func=_run_users_list)
    mapping = verb_parser(verbs, "map", help="give an OpenID Connect e-mail address a role")
    mapping.add_argument("email")
    group = mapping.add_mutually_exclusive_group(required=True)
    group.add_argument("--role", choices=["analyst", "planner", "viewer"])
    group.add_argument("--remove", action="store_true", help="remove the mapping")
    mapping.set_defaults(func=_run_users_map)


def _new_password(name: str) -> str:
    from getpass import getpass

    from geointel.errors import ValidationError

    if os.environ.get(NEW_PASSWORD_ENV):
        return os.environ[NEW_PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise ValidationError(f"no terminal to ask for {name}'s password; set "
                              f"{NEW_PASSWORD_ENV} to give it from a script")
    first = getpass(f"password for {name} (12+ characters): ")
    if getpass("again: ") != first:
        raise ValidationError("the two passwords differ; nothing was changed")
    return first


def _run_users_add(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.auth import add_account

    path = settings.resolved_accounts_file()
    account = add_account(path, args.name, role=args.role, password=_new_password(args.name),
                          replace=args.replace)
    return {"accounts_file": str(path), "user": account.username, "role": account.role}


def _run_users_demo(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.auth import demo_accounts, load_accounts

    path = settings.resolved_accounts_file()
    passwords = demo_accounts(path)
    roles = load_accounts(path).roles
    return {"accounts_file": str(path),
            "note": "demo passwords are shown only now; only their hashes are stored",
            "accounts": {name: {"role": roles[name], "password": pw}
                         for name, pw in passwords.items()}}


def _run_users_list(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.auth import load_accounts

    accounts = load_accounts(settings.resolved_accounts_file())
    return {"accounts_file": str(accounts.path), "users": dict(accounts.roles),
            "oidc_roles": dict(accounts.oidc_roles)}


def _run_users_map(args: argparse.Namespace, settings: Settings) -> Summary:
    from geointel.auth import map_identity

    path = settings.resolved_accounts_file()
    map_identity(path, args.email, role=None if args.remove else args.role)
    return {"accounts_file": str(path), "email": args.email.lower(),
            "role": None if args.remove else args.role}


# --- registry --------------------------------------------------------------------------

VERBS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_key,
    _add_sample,
    _add_data,
    _add_score,
    _add_track,
    _add_site,
    _add_lines,
    _add_harm,
    _add_access,
    _add_brief,
    _add_users,
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every verb registered."""
    parser = argparse.ArgumentParser(
        prog="geointel",
        description="Drug-harm geospatial intelligence: open data, harm, access, siting, "
                    "county lines, scoring and briefings.")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    parser.add_argument("--config", type=Path, help="settings file (default: geointel.toml)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for add in VERBS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 geointel error, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s",
                        level=logging.WARNING - 10 * min(args.verbose, 2))
    try:
        settings = load_settings(args.config)
        summary = args.func(args, settings)
    except GeointelError as err:
        print(f"error: {err}", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": str(err)}))
        return 1
    try:
        if args.json:
            print(json.dumps({"ok": True, **summary}, default=str, indent=2))
        else:
            _print_summary(summary)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `geointel ... --json | head`: the reader left early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
