"""Figures for papers: PNG and SVG downloads of any Plotly chart, styled to be read at a
paper's column width.

Static export goes through kaleido (1.x), which drives a Chrome/Chromium. The browser is
found in this order: the ``BROWSER_PATH`` environment variable (kaleido's own override),
``/usr/bin/chromium``, then ``chromium`` / ``chromium-browser`` / ``google-chrome`` on the
``PATH``. With no kaleido or no browser the page shows a one-line hint instead of the
buttons; the interactive chart is unaffected.

Images are rendered only when a button is clicked (the download data is a callable), so a
page with many charts does not start a browser on every rerun.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from pathlib import Path
import shutil

import plotly.graph_objects as go
import streamlit as st

DEFAULT_CHROME = "/usr/bin/chromium"
_CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# A one-column figure in a two-column paper is about 3.3 in wide; rendered at 640 px and
# scale 2 this keeps 14-16 px text legible once the image is shrunk into the column.
PAPER_WIDTH = 640
PAPER_HEIGHT = 440
PAPER_SCALE = 2
PAPER_FONT = 15
PAPER_AXIS_TITLE = 16
PAPER_LEGEND = 13


def chrome_path() -> str | None:
    """The Chrome/Chromium kaleido should drive, or ``None`` when none is installed."""
    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).is_file():
        return env
    if Path(DEFAULT_CHROME).is_file():
        return DEFAULT_CHROME
    for name in _CHROME_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def export_unavailable() -> str | None:
    """Why PNG/SVG export cannot run here (one line), or ``None`` when it can."""
    if importlib.util.find_spec("kaleido") is None:
        return "PNG/SVG download needs kaleido: `pip install kaleido==1.5.0` (and a Chromium)."
    if chrome_path() is None:
        return ("PNG/SVG download needs a Chrome or Chromium: install one (e.g. `apt-get install chromium`) "
                "or set BROWSER_PATH to it.")
    return None


def style_for_paper(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` laid out for a paper column: white background, larger text for the axis
    titles, ticks and legend, a fixed size, and margins that keep labels inside the image."""
    out = go.Figure(copy.deepcopy(fig.to_dict()))
    out.update_layout(
        template="plotly_white",
        width=PAPER_WIDTH, height=PAPER_HEIGHT,
        font={"size": PAPER_FONT, "family": "Arial, Helvetica, sans-serif", "color": "black"},
        legend={"font": {"size": PAPER_LEGEND}, "bgcolor": "rgba(255,255,255,0.8)"},
        margin={"l": 70, "r": 20, "t": 50 if out.layout.title.text else 20, "b": 60},
        title={"font": {"size": PAPER_AXIS_TITLE + 1}},
    )
    out.update_xaxes(title_font={"size": PAPER_AXIS_TITLE}, tickfont={"size": PAPER_FONT},
                     showline=True, linecolor="black", mirror=False)
    out.update_yaxes(title_font={"size": PAPER_AXIS_TITLE}, tickfont={"size": PAPER_FONT},
                     showline=True, linecolor="black", mirror=False)
    out.update_polars(radialaxis_tickfont_size=PAPER_LEGEND, angularaxis_tickfont_size=PAPER_FONT)
    return out


def static_image(fig: go.Figure, fmt: str) -> bytes:
    """``fig`` styled for a paper and rendered as ``fmt`` ("png" or "svg") by kaleido."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"format must be png or svg, not {fmt!r}")
    browser = chrome_path()
    if browser and not os.environ.get("BROWSER_PATH"):
        os.environ["BROWSER_PATH"] = browser  # kaleido (choreographer) reads this override
    styled = style_for_paper(fig)
    return styled.to_image(format=fmt, width=PAPER_WIDTH, height=PAPER_HEIGHT,
                           scale=PAPER_SCALE if fmt == "png" else 1)


def download_buttons(fig: go.Figure, name: str, key: str) -> None:
    """PNG and SVG download buttons for ``fig`` (styled with :func:`style_for_paper`), side by side;
    a one-line hint instead when kaleido or a browser is missing. ``name`` is the file stem."""
    why = export_unavailable()
    if why is not None:
        st.caption(why)
        return
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "figure"
    c1, c2, _ = st.columns([1, 1, 6])
    c1.download_button("PNG", lambda: static_image(fig, "png"), file_name=f"{stem}.png", mime="image/png",
                       key=f"{key}-png", icon=":material/image:", help="Static image for a paper (640x440, 2x).")
    c2.download_button("SVG", lambda: static_image(fig, "svg"), file_name=f"{stem}.svg", mime="image/svg+xml",
                       key=f"{key}-svg", icon=":material/draw:", help="Vector image for a paper.")

