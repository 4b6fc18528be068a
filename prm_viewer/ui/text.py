"""Trace text as safe Markdown with LaTeX.

Step text comes from uploaded files, so it is never HTML: outside math, ``<``, ``>`` and ``&``
become entities (an ``<img onerror=...>`` shows as text), and Streamlit's colour/icon directives
(``:red[...]``, ``:material/...:``) are neutralised. Math stays as written so KaTeX renders it;
``\\( \\)`` and ``\\[ \\]`` delimiters, common in math traces, become ``$``/``$$`` which
Streamlit's Markdown understands. Nothing here is passed with ``unsafe_allow_html``.
"""

from __future__ import annotations

import re

# Math segments, longest delimiters first. A segment never spans an unmatched delimiter.
_MATH = re.compile(
    r"(\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\d))",
    re.S,
)
_DIRECTIVE = re.compile(r":(?=[A-Za-z-]+(?:\[|/))")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _escape_plain(text: str) -> str:
    text = "".join(_HTML.get(ch, ch) for ch in text)
    return _DIRECTIVE.sub("&#58;", text)


def _math(segment: str) -> str:
    if segment.startswith("\\["):
        return "$$" + segment[2:-2] + "$$"
    if segment.startswith("\\("):
        return "$" + segment[2:-2].strip() + "$"
    return segment


def safe_markdown(text: str) -> str:
    """Markdown for ``st.markdown`` that shows ``text`` (with its LaTeX) and runs nothing."""
    out: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        out.append(_escape_plain(text[pos : m.start()]))
        out.append(_math(m.group(0)))
        pos = m.end()
    out.append(_escape_plain(text[pos:]))
    return "".join(out)


def plain(text: str, limit: int | None = None) -> str:
    """Text for a label or caption: HTML-escaped, newlines folded, optionally shortened."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _escape_plain(flat)
