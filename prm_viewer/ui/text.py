"""Text from data files made inert for the browser: the ONE place every page escapes it.

Trace text, problems, dataset / generator / split / category names and tags come from uploaded
files, so nothing in them may become HTML, a link, an image (a request to any host) or a Streamlit
directive. Three outputs, by where the text goes:

- :func:`safe_markdown` -- step and problem text for ``st.markdown``: Markdown *formatting*
  (emphasis, lists, headings, code) and LaTeX stay; links, images, autolinks (``http://``,
  ``www.``, e-mail addresses), reference definitions, footnotes, raw HTML and Streamlit's
  ``:colour[...]`` / ``:material/...:`` directives do not.
- :func:`plain` -- a name or value inside Markdown (captions, badges, labels, messages, toasts):
  every Markdown character is escaped, so it shows exactly as written (no formatting either).
- :func:`plotly_text` -- a string for Plotly (tick labels, legend names, hover text), whose
  labels understand a subset of HTML (``<a href>``, ``<b>``): ``& < >`` become entities.

How the Markdown is neutralised: the text is split into prose, inline code spans and math.
In prose, ``[`` ``]`` ``:`` ``@`` and the dot of ``www.`` are backslash-escaped (CommonMark shows
an escaped punctuation character as itself) and ``& < >`` become entities; this breaks every link
and image form (``](``, ``]:``, ``[x][y]``), every autolink and every directive. Streamlit also
links URLs and e-mail addresses found in the parsed text, so an invisible word joiner (U+2060)
goes inside ``://``, ``www.`` and after ``@`` (copied text carries it). ``*``,
``_``, ``#``, ``-`` and backticks keep formatting. A backslash already escaping a character is
kept with it, so a ``\\`` in the data cannot "un-escape" the next bracket. Code spans and math are
kept, but their link-making sequences are still broken in a way that does not show there: a
zero-width space in code (``](`` -> ``]\\u200b(``), an empty group ``{}`` or ``\\lt`` / ``\\gt``
in LaTeX. So a segment that this module takes for code or math and the Markdown renderer does not
(say, a ``$$`` block inside a list item) still renders nothing live: the worst case is cosmetic.
Nothing here is passed with ``unsafe_allow_html``.
"""

from __future__ import annotations

import re

_ZW = "\u200b"
_WJ = "\u2060"
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.I)

# One left-to-right tokeniser: math (``$$..$$``, ``\[..\]``, ``\(..\)``, ``$..$``; first, as
# ``\(`` is also an escape), an existing backslash escape, or an inline code span (one line; the
# opening run of backticks is a whole run and the closing run has the same length). Everything
# between matches is prose.
_TOKEN = re.compile(
    r"(?P<math>\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\d))"
    r"|(?P<esc>\\[!-/:-@\[-`{-~])"
    r"|(?P<code>(?<!`)(?P<tick>`+)(?!`)[^\n]*?[^`\n](?P=tick)(?!`))",
    re.S,
)
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PROSE = {**_HTML, "[": "\\[", "]": "\\]", ":": "\\:", "@": "\\@"}
_WWW = re.compile(r"(?i)(?<![A-Za-z0-9])(www)\.")
# Link-making sequences inside code and math (see the module docstring).
_LINKISH = re.compile(r"\](?=[(:\[])|://|(?i:www)\.|@|<|>")
_MD_ACTIVE = re.compile(r"[\\`*_~\[\]!<>&|$:@#=]")
_LEADING = re.compile(r"^(\s*)(\d*)([-+.)])")


def _unlinkable(text: str) -> str:
    """A word joiner (invisible, U+2060) inside ``://``, ``www.`` and after ``@``: Streamlit's
    Markdown also turns URLs and e-mail addresses in the *parsed* text into links (GFM's
    autolink-literal pass runs on text nodes, after escapes are resolved), so escaping alone
    cannot stop it; the joiner breaks its patterns."""
    return _AUTOLINK.sub(_WJ, text)


def _prose(text: str) -> str:
    text = _WWW.sub(r"\1\\.", _unlinkable(text))
    return "".join(_PROSE.get(ch, ch) for ch in text)


def _code(segment: str) -> str:
    """A code span as written, with a zero-width space after each link-making character."""
    return _LINKISH.sub(lambda m: m.group(0)[0] + _ZW + m.group(0)[1:], segment)


def _tex(match: re.Match[str]) -> str:
    s = match.group(0)
    if s == "<":
        return r"\lt "
    if s == ">":
        return r"\gt "
    return s[0] + "{}" + s[1:]


def _math(segment: str) -> str:
    if segment.startswith("\\["):
        segment = "$$" + segment[2:-2] + "$$"
    elif segment.startswith("\\("):
        segment = "$" + segment[2:-2].strip() + "$"
    return _LINKISH.sub(_tex, segment)


def safe_markdown(text: str) -> str:
    """Markdown for ``st.markdown`` that shows ``text`` with its formatting and LaTeX, and that
    loads, links and runs nothing."""
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(str(text)):
        out.append(_prose(text[pos : m.start()]))
        if m.group("esc"):
            out.append(m.group("esc"))
        elif m.group("code"):
            out.append(_code(m.group("code")))
        else:
            out.append(_math(m.group("math")))
        pos = m.end()
    out.append(_prose(text[pos:]))
    return "".join(out)


def escape_markdown(text: str) -> str:
    """``text`` (one line) as literal Markdown: ``& < >`` as entities, and a backslash before each
    character that can start Markdown (emphasis, code, links, images, tables, math, directives,
    autolinks, a heading, list or quote at the start); nothing formats, links or loads."""
    text = _MD_ACTIVE.sub(lambda m: _HTML.get(m.group(0)) or "\\" + m.group(0), _unlinkable(str(text)))
    text = _WWW.sub(r"\1\\.", text)
    return _LEADING.sub(lambda m: m.group(1) + m.group(2) + "\\" + m.group(3), text, count=1)


def plain(text: object, limit: int | None = None) -> str:
    """Text for a label, caption, badge or message (Markdown contexts): shown exactly as written,
    newlines folded, optionally shortened to ``limit`` characters."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return escape_markdown(flat)


def plotly_text(text: object, limit: int | None = None) -> str:
    """Text for Plotly labels, legends and hover text (which read ``<a>``, ``<b>``... as markup)."""
    flat = " ".join(str(text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return "".join(_HTML.get(ch, ch) for ch in flat)
