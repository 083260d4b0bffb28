"""Streamlit entry: page config and navigation over app_pages/ (pages stay thin)."""

import streamlit as st

st.set_page_config(page_title="geointel", page_icon=":material/map:", layout="wide")

pages = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
]
st.navigation(pages).run()
