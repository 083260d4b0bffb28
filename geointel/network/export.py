"""Write a :class:`~geointel.network.pipeline.LinesResult` for analysts and their tools.

Files: ``lines.csv`` (with the scoring scheme's network evidence), ``activity.csv`` (weekly
demand per line, for ``geointel track``), ``line_customers.csv`` (pseudonyms, for
displacement), ``footprints.csv`` (records per line, side and LSOA, when LSOA boundaries were
given; for drug offences in the footprint), ``carried.csv`` (with ``--previous``: which line
ids were carried forward, new or retired), ``handsets.csv``, ``rebrands.csv``,
``holders.csv``, ``groups.csv``, ``disruption.csv``, ``features.csv``; ``network.graphml`` and
``network.gexf`` (Gephi);
``i2_entities.csv`` + ``i2_links.csv`` (i2 Analyst's Notebook tabular import);
``footprints.gpkg`` (layers ``lsoa_footprint`` and ``line_links``, EPSG:27700); and
``MARKING.txt`` with the protective marking and attribution. Graph files carry the marking as
a graph attribute, GeoPackage layers as a ``marking`` column. Only pseudonyms are written.

The tables that ``geointel score`` and ``track`` read back (``lines``, ``activity``,
``line_customers``, ``footprints``) carry a ``key_fingerprint`` column, and ``summary.json``
a ``key_fingerprint`` entry: the fingerprint of the pseudonymisation key
(:func:`geointel.privacy.key_fingerprint`), so that reading them under another key is refused
(:func:`geointel.scoring.check_key`) rather than silently matching nothing.

:func:`download` gives one export as bytes for a front end, after checking the user's role
(:func:`geointel.auth.check_role` with ``export:lines``), so the app cannot hand the contact
network to a role that may not have it.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Literal

import networkx as nx
import pandas as pd

from geointel.auth import check_role
from geointel.errors import ValidationError
from geointel.network.pipeline import LinesResult

log = logging.getLogger(__name__)
ATTRIBUTION = ("Synthetic or partner contact records, pseudonymised at read time with a keyed "
               "hash. Boundaries: Contains public sector information licensed under the Open "
               "Government Licence v3.0; contains OS data (c) Crown copyright and database "
               "right.")


def i2_tables(result: LinesResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entities and links in the shape an i2 Analyst's Notebook import specification maps."""
    G = result.graph
    entities = pd.DataFrame([{
        "Entity ID": n, "Entity Type": "Telephone", "Label": n,
        "Role": d.get("role", ""), "Line": d.get("line_id", ""), "Group": d.get("group_id", "")}
        for n, d in sorted(G.nodes(data=True))])
    links = pd.DataFrame([{
        "From Entity ID": u, "To Entity ID": v,
        "Link Type": "Co-located" if d.get("kind") == "co_located" else "Contact",
        "Weight": d.get("weight", 0), "First Seen": d.get("first_seen", ""),
        "Last Seen": d.get("last_seen", "")} for u, v, d in sorted(G.edges(data=True))],
        columns=["From Entity ID", "To Entity ID", "Link Type", "Weight", "First Seen",
                 "Last Seen"])
    return entities, links


def write_outputs(result: LinesResult, out_dir: str | Path, *, key_fingerprint: str,
                  marking: str = "OFFICIAL-SENSITIVE", role: str = "analyst") -> dict[str, Path]:
    """Write every export into ``out_dir`` (created if needed); return name -> path.

    Tables and footprints go through :func:`geointel.exports.export_layers` (``role`` must
    hold ``export:lines``); CSVs keep the exact columns ``geointel score`` / ``track`` read
    back, the marking travelling in ``MARKING.txt`` and ``summary.json`` beside them.

    Parameters
    ----------
    key_fingerprint
        :func:`geointel.privacy.key_fingerprint` of the key the contact records were read
        with; written into the tables read back and ``summary.json``.
    """
    from geointel.exports import export_layers
    from geointel.scoring import FINGERPRINT_COLUMN

    def weeks(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(week=frame["week"].dt.strftime("%Y-%m-%d")) if len(frame) else frame

    entities, links = i2_tables(result)
    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{FINGERPRINT_COLUMN: key_fingerprint})

    if not key_fingerprint:
        raise ValidationError("write_outputs: key_fingerprint is blank; pass "
                              "geointel.privacy.key_fingerprint(key) of the records' key")
    tables = {"lines": keyed(result.lines), "activity": keyed(weeks(result.activity)),
              "line_customers": keyed(weeks(result.line_customers)),
              "handsets": result.handsets,
              "rebrands": result.links, "holders": result.holders, "groups": result.groups,
              "disruption": result.disruption, "features": result.features,
              "i2_entities": entities, "i2_links": links}
    if result.footprints is not None:
        tables["footprints"] = keyed(result.footprints)
    if result.carried is not None:
        tables["carried"] = result.carried
    layers = {"line_links": result.line_links.dropna(subset=["geometry"])}
    if result.footprint_polygons is not None:
        layers = {"lsoa_footprint": result.footprint_polygons, **layers}
    out = Path(out_dir)
    (out / "footprints.gpkg").unlink(missing_ok=True)
    files = export_layers(out, layers=layers, tables=tables, marking=marking, role=role,
                          capability="export:lines", formats=("gpkg", "csv"),
                          stem="footprints", attribution=ATTRIBUTION, marking_column=False,
                          summary={"key_fingerprint": key_fingerprint,
                                   **result.summary()})
    paths: dict[str, Path] = {name: files[f"{name}.csv"] for name in tables}
    G = _marked_graph(result, marking)
    paths["graphml"] = out / "network.graphml"
    nx.write_graphml(G, paths["graphml"])
    paths["gexf"] = out / "network.gexf"
    nx.write_gexf(G, paths["gexf"])
    if "footprints.gpkg" in files:
        paths["footprints"] = files["footprints.gpkg"]
    paths["marking"] = files["MARKING.txt"]
    paths["summary"] = files["summary.json"]
    log.info("wrote %d files to %s", len(paths), out)
    return paths


def _marked_graph(result: LinesResult, marking: str) -> nx.Graph:
    G = result.graph.copy()
    G.graph.update({"marking": marking, "attribution": ATTRIBUTION})
    return G


def download(result: LinesResult, kind: Literal["graphml", "gexf", "i2_entities", "i2_links",
                                                 "lines"], *,
             role: str, key_fingerprint: str, marking: str = "OFFICIAL-SENSITIVE") -> bytes:
    """One export as bytes, for a user of ``role`` (must hold ``export:lines``).

    Graph files carry ``marking`` as a graph attribute; CSVs a ``marking`` column, as
    :func:`geointel.exports.export_layers` writes them. The lines table carries
    ``key_fingerprint`` as :func:`write_outputs` writes it, so ``geointel score`` reads it
    back and refuses it under another key.

    Raises
    ------
    AccessDenied
        If ``role`` may not export lines.
    ValidationError
        If ``kind`` is not one of the exports.

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> from geointel.network.pipeline import LinesResult
    >>> G = nx.Graph([("Pa", "Pb")])
    >>> empty = pd.DataFrame()
    >>> r = LinesResult(empty, empty, pd.DataFrame({"line_id": ["L"]}), empty, empty, empty,
    ...                 None, None, None, empty, G, empty, empty)
    >>> download(r, "lines", role="analyst", key_fingerprint="0123456789ab").decode().split()
    ['line_id,key_fingerprint,marking', 'L,0123456789ab,OFFICIAL-SENSITIVE']
    >>> download(r, "lines", role="planner", key_fingerprint="0123456789ab")
    Traceback (most recent call last):
    ...
    geointel.errors.AccessDenied: the planner role may not use export:lines (allowed: analyst)
    """
    check_role(role, "export:lines")
    if kind in ("graphml", "gexf"):
        buffer = io.BytesIO()
        writer = nx.write_graphml if kind == "graphml" else nx.write_gexf
        writer(_marked_graph(result, marking), buffer)
        return buffer.getvalue()
    from geointel.scoring import FINGERPRINT_COLUMN

    frames = {"lines": lambda: result.lines.assign(**{FINGERPRINT_COLUMN: key_fingerprint}),
              "i2_entities": lambda: i2_tables(result)[0],
              "i2_links": lambda: i2_tables(result)[1]}
    if kind not in frames:
        raise ValidationError(f"download: kind={kind!r}; use one of graphml, gexf, "
                              f"{', '.join(frames)}")
    return frames[kind]().assign(marking=marking).to_csv(index=False).encode("utf-8")
