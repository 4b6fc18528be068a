"""Final answers: extraction from a solution's text, normalisation, and comparison. One place.

Used by the importers (a source's own correctness rule: BIG-Bench Mistake's exact-match tasks,
PRM800K's ground truth), by analysis (distinct final answers of a run's samples) and by recipes
(``mc-value`` compares rollouts' answers with the problem's reference answer).

- :func:`extract_answer` reads a final answer from free text (``\\boxed{}``, "The answer is",
  ``####``, optionally the last number);
- :func:`normalise` turns an answer into a comparison key;
- :func:`equivalent` says whether two answers are the same (``None`` when either is missing):
  plain normalised string equality, for sources whose own rule is exact match;
- :func:`check` decides whether a solution (or a stated answer) reaches the reference answer with
  Hugging Face ``math-verify`` (symbolic and numeric equality: fractions, ``\\sqrt``, intervals,
  tuples, percent, thousands separators); ``None`` = undecided (time limit hit, or the reference
  cannot be read).

``math-verify``'s time limits use ``signal.alarm``, which works only in a process's main thread:
call :func:`check` with a timeout in a worker process or a CLI (main thread), never in the
Streamlit script thread; there pass ``timeout=None`` and bound the call yourself (a worker).
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

from prm_viewer.errors import MissingDependency, PrmViewerError

_SPACE = re.compile(r"\s+")
_BOXED_WHOLE = re.compile(r"^\\boxed\{(.*)\}$", re.S)
_ANSWER_IS = re.compile(r"(?:final\s+)?answer\s+is\s*:?\s*", re.I)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
_HASHES = "####"


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (nested braces allowed), else ``None``.

    An unbalanced last ``\\boxed{`` (the text is cut off) gives ``None``.
    """
    k = text.rfind("\\boxed")
    while k >= 0:
        j = k + len("\\boxed")
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            depth, i = 0, j
            while i < len(text):
                if text[i] == "{":
                    depth += 1
                elif text[i] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[j + 1:i]
                i += 1
            return None  # unbalanced: the answer is cut off
        k = text.rfind("\\boxed", 0, k)
    return None


def after_marker(text: str, markers: tuple[str, ...]) -> str | None:
    """The text after the last line starting with one of ``markers`` (e.g. ``"A:"``, ``"####"``)."""
    for line in reversed(text.splitlines()):
        s = line.strip()
        for m in markers:
            if s.startswith(m):
                return s[len(m):].strip()
    return None


def _answer_is(text: str) -> str | None:
    """What follows the last "The answer is" on its line, without a closing period or ``$``."""
    found = None
    for m in _ANSWER_IS.finditer(text):
        found = m
    if found is None:
        return None
    rest = _peel(text[found.end():].split("\n", 1)[0], boxed=False)
    return rest or None


def extract_answer(text: str | None, *, last_number: bool = False) -> str | None:
    """The final answer a solution states, or ``None`` when it states none.

    In order: the last ``\\boxed{...}`` (nested braces allowed); what follows the last
    "The answer is" / "The final answer is" on its line; what follows the last ``####`` line
    (GSM8K); with ``last_number``, the last number in the text (for step texts that end in
    ``= value``). The result is as written; compare answers with :func:`equivalent`.
    """
    if not text:
        return None
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    said = _answer_is(text)
    if said is not None:
        return said
    hashed = after_marker(text, (_HASHES,))
    if hashed:
        return hashed
    if last_number:
        nums = _NUMBER.findall(text)
        return nums[-1] if nums else None
    return None


def _peel(text: str, boxed: bool = True) -> str:
    """Surrounding whitespace, ``$`` and a final period removed (and a whole ``\\boxed{}``
    unwrapped), repeatedly: ``"$\\boxed{42}$."`` -> ``"42"``."""
    t, prev = text, None
    while t != prev:
        prev = t
        t = t.strip().strip("$").strip()
        m = _BOXED_WHOLE.match(t) if boxed else None
        if m:
            t = m.group(1)
        t = t.rstrip(".").strip()
    return t


def _number(text: str) -> str:
    """A plain number written canonically (``"1,000"`` -> ``"1000"``, ``"+2.50"`` -> ``"2.5"``,
    ``"3.0"`` -> ``"3"``); anything else unchanged."""
    if not _PLAIN_NUMBER.match(text):
        return text
    t = text.replace(",", "").lstrip("+")
    neg = t.startswith("-")
    t = t.lstrip("-")
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    t = t.lstrip("0") or "0"
    if t.startswith("."):
        t = "0" + t
    return "-" + t if neg and t != "0" else t


def normalise(answer: object, *, loose: bool = False) -> str | None:
    """An answer as a comparison key; ``None`` for a missing one (``None`` or NaN).

    Whitespace collapsed, surrounding ``$`` and a surrounding ``\\boxed{}`` removed, a final
    period removed, a plain number written canonically (thousands commas, a leading ``+`` and
    trailing decimal zeros dropped). Case and inner spaces are kept: ``"apple banana"`` and
    ``"applebanana"`` differ (BIG-Bench Mistake's word sorting depends on it).

    ``loose=True`` also drops every space and lower-cases: a key for counting distinct answers
    among samples (analysis), where ``"X = 5"`` and ``"x=5"`` are the same answer.
    """
    if answer is None or (isinstance(answer, float) and math.isnan(answer)):
        return None
    t = _peel(_SPACE.sub(" ", str(answer)))
    if loose:
        t = t.replace(" ", "").lower()
    return _number(t)


def equivalent(a: object, b: object) -> bool | None:
    """True/False when both answers are known, ``None`` when either is missing.

    Today: equality of :func:`normalise` keys.
    """
    na, nb = normalise(a), normalise(b)
    if na is None or nb is None:
        return None
    return na == nb


# ---------------------------------------------------------------------------- math-verify checking

CHECK_TIMEOUT_S = 5
"""Default time limit, in seconds, of each parse and each comparison inside :func:`check`."""
INSTALL_MATH_VERIFY = "pip install 'math-verify[antlr4_13_2]==0.9.0'"
_A_LINE = ("A:",)  # GSM8K model solutions (grade-school-math) end with "A: <answer>"


def _math_verify() -> Any:
    try:
        import math_verify
        import math_verify.errors  # noqa: F401  (TimeoutException, reached as math_verify.errors)
    except ImportError:
        raise MissingDependency("math-verify", INSTALL_MATH_VERIFY, "answer checking") from None
    return math_verify


class _Undecided(Exception):
    """math-verify ran out of time."""


def _wrap(answer: str) -> str:
    """An extracted answer as math-verify reads a LaTeX answer (inside ``$...$``)."""
    a = answer.strip()
    return a if "$" in a or "\\boxed" in a else f"${a}$"


def _parse(mv: Any, text: str, timeout: int | None) -> list[Any]:
    try:
        return list(mv.parse(text, parsing_timeout=timeout, raise_on_error=True))
    except mv.errors.TimeoutException:
        raise _Undecided() from None
    except Exception:  # math-verify cannot read it: nothing extracted
        return []


def stated_answer(text: str) -> str | None:
    """The answer a solution states for checking: :func:`extract_answer` (``\\boxed{}``,
    "The answer is", ``####``), else an ``A:`` line (GSM8K model solutions)."""
    return extract_answer(text) or after_marker(text, _A_LINE) or None


def parse_prediction(mv: Any, pred: str, timeout: int | None) -> list[Any]:
    """math-verify's reading of a prediction: its stated answer when it has one (as LaTeX, then as
    written), else whatever math-verify extracts from the whole text."""
    said = stated_answer(pred)
    if said:
        for candidate in (_wrap(said), said):
            got = _parse(mv, candidate, timeout)
            if got:
                return got
    got = _parse(mv, pred, timeout)
    if not got and "\n" not in pred.strip():  # a bare LaTeX answer such as \dfrac{1}{2}
        got = _parse(mv, _wrap(pred), timeout)
    return got


def check(gold: object, pred: object, timeout: int | None = CHECK_TIMEOUT_S) -> bool | None:
    """Whether the solution or answer ``pred`` reaches the reference answer ``gold``.

    ``gold`` is a reference answer (``"18"``, ``"\\frac{1}{2}"``, a GSM8K ``#### 18`` solution...);
    ``pred`` a whole solution or just its answer. Returns ``True`` / ``False``; ``None`` when it
    cannot be decided: ``gold`` is missing or math-verify cannot read it, or a parse or comparison
    hit the time limit (``timeout`` seconds each; ``None`` = no limit, for threads other than the
    main one, where the caller bounds the call). A ``pred`` with no readable answer is ``False``.
    """
    if gold is None or pred is None or (isinstance(gold, float) and math.isnan(gold)):
        return None
    if timeout is not None and threading.current_thread() is not threading.main_thread():
        raise PrmViewerError("answer checking with a time limit must run in a main thread (a worker process "
                             "or the CLI); pass timeout=None and bound the call yourself")
    mv = _math_verify()
    g, p = str(gold), str(pred)
    if not g.strip():
        return None
    try:
        gold_parsed = parse_prediction(mv, g, timeout) if stated_answer(g) else _parse(mv, _wrap(g), timeout)
        gold_parsed = gold_parsed or _parse(mv, g, timeout)
        if not gold_parsed:
            return None
        pred_parsed = parse_prediction(mv, p, timeout) if p.strip() else []
    except _Undecided:
        return None
    if not pred_parsed:
        return False
    timed_out = False
    for gi in gold_parsed:
        for pi in pred_parsed:
            try:
                if mv.verify(gi, pi, timeout_seconds=timeout, raise_on_error=True):
                    return True
            except mv.errors.TimeoutException:
                timed_out = True
            except Exception:  # a comparison math-verify cannot make: not equal
                continue
    return None if timed_out else False
