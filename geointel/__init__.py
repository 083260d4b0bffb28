"""geointel: geospatial intelligence and supply-disruption analysis for drug-harm partnerships.

The library imports without Streamlit; ``app.py`` and ``geointel.cli`` are thin front ends.
"""

__version__ = "0.1.0"
