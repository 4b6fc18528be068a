"""One section of a long analysis page at a time, kept in the URL as ``section=``.

``st.tabs`` sends every tab's elements on each run and the browser draws all of them, so a page
of five tabs pays for every hidden chart (each ``st.plotly_chart`` draws twice on mount in
Streamlit 1.67). A segmented control draws only the chosen section; the URL keeps it, so a
link opens the page at that section and the back button returns to it.
"""

from __future__ import annotations

import streamlit as st


def section_control(sections: dict[str, str], key: str) -> str:
    """Show the control; returns the chosen section's slug (the first one by default).

    ``sections`` maps URL slugs to labels, in display order. An unknown ``section=`` in the URL
    opens the first section."""
    slugs = list(sections)
    wanted = st.query_params.get("section", slugs[0])
    st.session_state.setdefault(key, sections.get(wanted, sections[slugs[0]]))
    label = st.segmented_control("Section", list(sections.values()), key=key, required=True,
                                 label_visibility="collapsed")
    slug = next((s for s, lab in sections.items() if lab == label), slugs[0])
    if slug == slugs[0]:
        st.query_params.pop("section", None)
    else:
        st.query_params["section"] = slug
    return slug
