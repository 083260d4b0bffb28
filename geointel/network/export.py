"""Write a :class:`~geointel.network.pipeline.LinesResult` for analysts and their tools.

Files: ``lines.csv``, ``handsets.csv``, ``rebrands.csv``, ``holders.csv``, ``groups.csv``,
``disruption.csv``, ``features.csv``; ``network.graphml`` and ``network.gexf`` (Gephi);
``i2_entities.csv`` + ``i2_links.csv`` (i2 Analyst's Notebook tabular import);
``footprints.gpkg`` (layers ``lsoa_footprint`` and ``line_links``, EPSG:27700); and
``MARKING.txt`` with the protective marking and attribution. Graph files carry the marking as
a graph attribute, GeoPackage layers as a ``marking`` column. Only pseudonyms are written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import networkx as nx
import pandas as pd

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


def write_outputs(result: LinesResult, out_dir: str | Path, *,
                  marking: str = "OFFICIAL-SENSITIVE") -> dict[str, Path]:
    """Write every export into ``out_dir`` (created if needed); return name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    def csv(name: str, frame: pd.DataFrame) -> None:
        paths[name] = out / f"{name}.csv"
        frame.to_csv(paths[name], index=False)

    csv("lines", result.lines)
    csv("handsets", result.handsets)
    csv("rebrands", result.links)
    csv("holders", result.holders)
    csv("groups", result.groups)
    csv("disruption", result.disruption)
    csv("features", result.features)
    entities, links = i2_tables(result)
    csv("i2_entities", entities)
    csv("i2_links", links)
    G = result.graph.copy()
    G.graph.update({"marking": marking, "attribution": ATTRIBUTION})
    paths["graphml"] = out / "network.graphml"
    nx.write_graphml(G, paths["graphml"])
    paths["gexf"] = out / "network.gexf"
    nx.write_gexf(G, paths["gexf"])
    gpkg = out / "footprints.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    if result.footprint_polygons is not None and len(result.footprint_polygons):
        result.footprint_polygons.assign(marking=marking).to_file(
            gpkg, layer="lsoa_footprint", driver="GPKG")
        paths["footprints"] = gpkg
    links_geo = result.line_links.dropna(subset=["geometry"])
    if len(links_geo):
        links_geo.assign(marking=marking).to_file(gpkg, layer="line_links", driver="GPKG")
        paths["footprints"] = gpkg
    paths["marking"] = out / "MARKING.txt"
    paths["marking"].write_text(f"{marking}\n\n{ATTRIBUTION}\n", encoding="utf-8")
    log.info("wrote %d files to %s", len(paths), out)
    return paths
