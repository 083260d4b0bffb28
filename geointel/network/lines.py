"""Line continuity (rebrands), holders, runners and customers of detected deal lines.

All functions work on a DuckDB connection prepared by :func:`geointel.network.graph.prepare`
and a list of deal-line handsets.

Continuity
    A handset that starts within days of an older deal line going quiet (from 7 days before
    its last outgoing contact to 14 days after) and inherits its customers is the same line:
    the share of the smaller customer set found in both is at least ``min_overlap`` (0.5),
    or at least 0.3 when the new handset's first flare reached most of the old customers.
    Links are made greedily by overlap, one successor per handset. A line's stable id is
    ``LINE-`` and the first 8 characters of its first handset's pseudonym.
Carry-forward
    The first handset depends on the window of records analysed: when the window starts
    after a rebrand, the chain starts at a later handset and would get another id. With the
    lines of an earlier run (:func:`carry_forward`), a chain that shares handsets with a
    previous line takes that line's id, so disruption logs, overrides and tracking keyed by
    line id stay valid; chains sharing no handset get new ids, and previous lines with no
    chain are reported as retired.
Holders
    Two handsets seen on the same cell in most of the hours when both were active, that
    never contacted each other, are likely carried by one person. For each deal-line handset
    the holder is the handset with the highest co-location rate (at least ``min_rate`` over
    at least ``min_hours`` shared hours).
Runners
    Handsets the line contacts outside flares at least 5 times, at least as often as they
    contact it, that are not its customers.

Examples
--------
>>> stable_line_id("P0123456789abcdef")
'LINE-01234567'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from geointel.network._duck import fetch

DAY = 86_400
HOUR = 3_600


def stable_line_id(first_handset: str) -> str:
    """The line id derived from the pseudonym of the line's first handset."""
    return "LINE-" + first_handset.lstrip("P")[:8]


def _register_deal(con: Any, deal: Sequence[str]) -> None:
    con.execute("CREATE OR REPLACE TABLE deal (h VARCHAR)").fetchall()
    if deal:
        con.executemany("INSERT INTO deal VALUES (?)", [[h] for h in deal])


def customers_sql(con: Any, deal: Sequence[str]) -> pd.DataFrame:
    """One row per (deal-line handset ``h``, customer ``c``) with contact counts."""
    _register_deal(con, deal)
    return fetch(con, """
        SELECT p.h, p.c, p.n_in, p.n_out, p.first_t, p.last_t FROM pairs p
        JOIN deal d ON d.h = p.h
        WHERE p.n_in >= 2 AND p.n_in >= 3 * (p.n_out - p.n_out_flare)
          AND p.c NOT IN (SELECT h FROM deal)
        ORDER BY p.h, p.c""")


def runners_sql(con: Any, deal: Sequence[str], *, min_dispatches: int = 5) -> pd.DataFrame:
    """One row per (deal-line handset ``h``, runner ``c``): dispatches and replies."""
    _register_deal(con, deal)
    return fetch(con, f"""
        SELECT p.h, p.c, p.n_out - p.n_out_flare AS dispatches, p.n_in AS replies
        FROM pairs p JOIN deal d ON d.h = p.h
        WHERE p.n_out - p.n_out_flare >= {int(min_dispatches)}
          AND p.n_out - p.n_out_flare >= p.n_in
          AND NOT (p.n_in >= 2 AND p.n_in >= 3 * (p.n_out - p.n_out_flare))
          AND p.c NOT IN (SELECT h FROM deal)
        ORDER BY p.h, p.c""")


def link_rebrands(con: Any, features: pd.DataFrame, deal: Sequence[str], *,
                  min_overlap: float = 0.5, flare_overlap: float = 0.3) -> pd.DataFrame:
    """Rebrand links between deal-line handsets, with their evidence.

    Returns
    -------
    DataFrame
        ``old``, ``new``, ``shared_customers``, ``overlap``, ``flare_share`` (share of the
        old customers reached by the new handset's first-day flares), ``gap_days``.
    """
    cust = customers_sql(con, deal)
    con.register("cust_tab", cust[["h", "c"]])
    shared = fetch(con, """
        SELECT o.h AS old, n.h AS new, count(*) AS shared_customers
        FROM cust_tab o JOIN cust_tab n ON o.c = n.c AND o.h <> n.h
        GROUP BY 1, 2""")
    first_flare = fetch(con, """
        SELECT o.h AS old, r.a AS new, count(DISTINCT r.b) AS reached
        FROM rec r
        JOIN (SELECT h, min(first_t) AS first_t FROM pairs GROUP BY h) s ON s.h = r.a
        JOIN cust_tab o ON o.c = r.b AND o.h <> r.a
        WHERE r.flare AND r.t <= s.first_t + 2 * 86400 AND r.a IN (SELECT h FROM deal)
        GROUP BY 1, 2""")
    con.unregister("cust_tab")
    columns = ["old", "new", "shared_customers", "overlap", "flare_share", "gap_days"]
    if shared.empty:
        return pd.DataFrame(columns=columns)
    size = cust.groupby("h").size()
    f = features.set_index("handset")
    cand = shared.merge(first_flare, on=["old", "new"], how="left").fillna({"reached": 0})
    cand["overlap"] = cand["shared_customers"] / [
        min(size[o], size[n]) for o, n in zip(cand["old"], cand["new"], strict=True)]
    cand["flare_share"] = cand["reached"] / size.reindex(cand["old"]).to_numpy()
    new_first = f["first_t"].reindex(cand["new"]).to_numpy()
    old_first = f["first_t"].reindex(cand["old"]).to_numpy()
    old_quiet = f["last_out_t"].reindex(cand["old"]).to_numpy()
    cand["gap_days"] = (new_first - old_quiet) / DAY
    timely = ((new_first > old_first + 7 * DAY) & (new_first >= old_quiet - 7 * DAY)
              & (new_first <= old_quiet + 14 * DAY))
    strong = (cand["overlap"] >= min_overlap) | (
        (cand["overlap"] >= flare_overlap) & (cand["flare_share"] >= 0.5))
    cand = cand[timely & strong].sort_values(["overlap", "shared_customers", "old", "new"],
                                             ascending=[False, False, True, True])
    used_old: set[str] = set()
    used_new: set[str] = set()
    rows = []
    for row in cand.itertuples(index=False):
        if row.old in used_old or row.new in used_new:
            continue
        used_old.add(str(row.old))
        used_new.add(str(row.new))
        rows.append({c: getattr(row, c) for c in columns})
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["old", "new"]).reset_index(drop=True)


def chain_lines(deal: Sequence[str], links: pd.DataFrame,
                features: pd.DataFrame) -> pd.DataFrame:
    """Handsets grouped into lines: ``handset``, ``line_id``, ``position`` (0 = first).

    Examples
    --------
    >>> f = pd.DataFrame({"handset": ["Paa", "Pbb", "Pcc"], "first_t": [0, 50, 10]})
    >>> links = pd.DataFrame({"old": ["Paa"], "new": ["Pbb"]})
    >>> chain_lines(["Paa", "Pbb", "Pcc"], links, f).values.tolist()
    [['Paa', 'LINE-aa', 0], ['Pbb', 'LINE-aa', 1], ['Pcc', 'LINE-cc', 0]]
    """
    nxt = dict(zip(links["old"], links["new"], strict=True))
    has_prev = set(links["new"])
    first = features.set_index("handset")["first_t"]
    rows = []
    for root in sorted((h for h in deal if h not in has_prev), key=lambda h: (first[h], h)):
        line_id = stable_line_id(root)
        h, pos = root, 0
        while True:
            rows.append({"handset": h, "line_id": line_id, "position": pos})
            if h not in nxt:
                break
            h, pos = nxt[h], pos + 1
    return pd.DataFrame(rows, columns=["handset", "line_id", "position"]).sort_values(
        ["line_id", "position"]).reset_index(drop=True)


CARRIED_COLUMNS = ["line_id", "status", "shared_handsets", "handsets"]


def carry_forward(chains: pd.DataFrame, previous: pd.DataFrame
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give each chain the id of the previous line it shares handsets with.

    Pairs (chain, previous line) are taken greedily by the number of handsets they share
    (ties by previous then default id), each chain and each previous id used once. A chain
    that shares no handset with an unused previous line keeps its own id (``LINE-`` + its
    first handset), with ``-2``, ``-3``... added if a previous line already had that id.

    Parameters
    ----------
    chains
        ``handset, line_id, position`` (:func:`chain_lines`).
    previous
        The lines of an earlier run: ``line_id`` and ``handsets`` (``;``-separated
        pseudonyms, as in ``lines.csv``).

    Returns
    -------
    tuple of DataFrame
        The chains with carried ids, and the report: ``line_id``, ``status`` (carried, new,
        retired), ``shared_handsets``, ``handsets`` (the chain's, or the retired line's).

    Examples
    --------
    >>> chains = pd.DataFrame({"handset": ["Pbb", "Pcc", "Pdd"],
    ...                        "line_id": ["LINE-bb", "LINE-bb", "LINE-dd"],
    ...                        "position": [0, 1, 0]})
    >>> prev = pd.DataFrame({"line_id": ["LINE-aa", "LINE-zz"], "handsets": ["Paa;Pbb", "Pzz"]})
    >>> new, report = carry_forward(chains, prev)
    >>> new["line_id"].tolist()
    ['LINE-aa', 'LINE-aa', 'LINE-dd']
    >>> report[["line_id", "status", "shared_handsets"]].values.tolist()
    [['LINE-aa', 'carried', 1], ['LINE-dd', 'new', 0], ['LINE-zz', 'retired', 0]]
    """
    from geointel.errors import ValidationError

    missing = [c for c in ("line_id", "handsets") if c not in previous.columns]
    if missing:
        raise ValidationError(f"previous lines: no column(s) {', '.join(missing)}; pass the "
                              "lines.csv of an earlier geointel lines run")
    old_of: dict[str, str] = {}
    old_handsets: dict[str, str] = {}
    for line, handsets in zip(previous["line_id"].astype(str),
                              previous["handsets"].fillna("").astype(str), strict=True):
        old_handsets[line] = handsets
        for h in handsets.split(";"):
            if h.strip():
                old_of[h.strip()] = line
    shared: dict[tuple[str, str], int] = {}
    for h, line in zip(chains["handset"], chains["line_id"], strict=True):
        if h in old_of:
            pair = (str(line), old_of[h])
            shared[pair] = shared.get(pair, 0) + 1
    renamed: dict[str, str] = {}
    count: dict[str, int] = {}
    for (new, old), n in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0])):
        if new in renamed or old in renamed.values():
            continue
        renamed[new] = old
        count[new] = n
    taken = set(old_handsets) | set(renamed.values())
    for new in sorted(set(chains["line_id"].astype(str)) - set(renamed)):
        candidate, n = new, 1
        while candidate in taken:
            n += 1
            candidate = f"{new}-{n}"
        renamed[new] = candidate
        taken.add(candidate)
    out = chains.assign(line_id=chains["line_id"].astype(str).map(renamed))
    rows = []
    for key, part in out.groupby("line_id", sort=True):
        line = str(key)
        default = next(k for k, v in renamed.items() if v == line)
        rows.append({"line_id": line, "status": "carried" if default in count else "new",
                     "shared_handsets": count.get(default, 0),
                     "handsets": ";".join(part.sort_values("position")["handset"])})
    for line in sorted(set(old_handsets) - set(out["line_id"])):
        rows.append({"line_id": line, "status": "retired", "shared_handsets": 0,
                     "handsets": old_handsets[line]})
    order = {"carried": 0, "new": 1, "retired": 2}
    rows.sort(key=lambda r: (order[str(r["status"])], str(r["line_id"])))
    return (out.sort_values(["line_id", "position"]).reset_index(drop=True),
            pd.DataFrame(rows, columns=CARRIED_COLUMNS))


def attribute_holders(con: Any, deal: Sequence[str], *, min_rate: float = 0.8,
                      min_hours: int = 5, candidates: int = 50) -> pd.DataFrame:
    """The likely holder of each deal-line handset, from co-location.

    Only the ``candidates`` handsets sharing most cell-hours with each line handset are
    scored (the holder shares nearly every hour both are active, so is among them).

    Returns
    -------
    DataFrame
        ``handset``, ``holder``, ``same_cell_hours``, ``both_active_hours``, ``rate``;
        deal-line handsets without a convincing holder are left out.
    """
    _register_deal(con, deal)
    cand = fetch(con, f"""
        WITH loc AS (
          SELECT DISTINCT a AS h, cell, CAST(floor(t / {HOUR}.0) AS BIGINT) AS hr
          FROM rec WHERE cell IS NOT NULL),
        dl AS (SELECT loc.* FROM loc JOIN deal ON deal.h = loc.h),
        same_all AS (
          SELECT dl.h AS handset, x.h AS holder, count(DISTINCT dl.hr) AS same_cell_hours
          FROM dl JOIN loc x ON x.cell = dl.cell AND x.hr = dl.hr AND x.h <> dl.h
          WHERE x.h NOT IN (SELECT h FROM deal)
          GROUP BY 1, 2 HAVING count(DISTINCT dl.hr) >= {int(min_hours)}),
        same AS (
          SELECT handset, holder, same_cell_hours FROM (
            SELECT *, row_number() OVER (PARTITION BY handset
                                         ORDER BY same_cell_hours DESC, holder) AS k
            FROM same_all) WHERE k <= {int(candidates)}),
        hours AS (
          SELECT DISTINCT loc.h, loc.hr FROM loc
          WHERE loc.h IN (SELECT holder FROM same) OR loc.h IN (SELECT h FROM deal)),
        both_active AS (
          SELECT s.handset, s.holder, count(DISTINCT dh.hr) AS both_active_hours
          FROM same s JOIN hours dh ON dh.h = s.handset
          JOIN hours ch ON ch.h = s.holder AND ch.hr = dh.hr
          GROUP BY 1, 2)
        SELECT s.handset, s.holder, s.same_cell_hours, b.both_active_hours,
               s.same_cell_hours * 1.0 / b.both_active_hours AS rate
        FROM same s JOIN both_active b ON b.handset = s.handset AND b.holder = s.holder
        WHERE NOT EXISTS (SELECT 1 FROM pairs p WHERE p.h = s.handset AND p.c = s.holder)
    """)
    columns = ["handset", "holder", "same_cell_hours", "both_active_hours", "rate"]
    cand = cand[cand["rate"] >= min_rate]
    if cand.empty:
        return pd.DataFrame(columns=columns)
    best = cand.sort_values(["handset", "rate", "same_cell_hours", "holder"],
                            ascending=[True, False, False, True]).drop_duplicates("handset")
    return best[columns].reset_index(drop=True)
