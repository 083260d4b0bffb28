"""The page-side role check: every page starts with ``role = require("page:<name>")``.

app.py signs the user in and puts ``role`` and ``user`` in ``st.session_state``; it only
lists and routes pages the role may open, and this check stops a page that is run any
other way (e.g. directly in a test) for a role that may not use it.
"""

from __future__ import annotations

import streamlit as st

from geointel.auth import allowed


def require(capability: str) -> str:
    """The signed-in role, or stop the page with an error if it may not use ``capability``."""
    role = st.session_state.get("role")
    if role is None:
        st.error("Please sign in.")
        st.stop()
    if not allowed(role, capability):
        st.error(f"Your role ({role}) may not open this page.")
        st.stop()
    return str(role)
