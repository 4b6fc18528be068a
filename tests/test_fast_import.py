"""The SQL fast path of a ProcessBench import stores exactly what the Python reader stores, and
hands every file it cannot vouch for to the Python reader (whose messages the other tests pin)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.fast_json import scan
from prm_viewer.ingest import fast_path_applies, import_file
from prm_viewer.store import Store

DATA = Path(__file__).parent / "data" / "processbench"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "ProcessBench"
REAL_FILES = [REAL / f for f in ("gsm8k.json", "math.json", "olympiadbench.json", "omnimath.json")]


def _rows(store: Store, did: str) -> dict[str, list[tuple[Any, ...]]]:
    cur = store.cursor()
    traces = cur.execute(
        """SELECT * EXCLUDE (dataset_id) FROM traces WHERE dataset_id = ? ORDER BY ordinal""", [did]).fetchall()
    steps = cur.execute(
        """SELECT s.* FROM steps s JOIN traces t USING (trace_id) WHERE t.dataset_id = ?
           ORDER BY t.ordinal, s.step_idx""", [did]).fetchall()
    problems = cur.execute(
        """SELECT * FROM problems WHERE problem_id IN (SELECT problem_id FROM traces WHERE dataset_id = ?)
           ORDER BY problem_id""", [did]).fetchall()
    return {"traces": traces, "steps": steps, "problems": problems}


def _both(tmp_path: Path, src: Path) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]]]:
    """Import ``src`` into two fresh stores, fast path and Python reader; the stored rows of each."""
    out = []
    for fast in (True, False):
        with Store(tmp_path / f"{'fast' if fast else 'python'}.duckdb") as store:
            if fast:
                assert fast_path_applies(store, src), f"{src.name} should take the fast path"
            rep = import_file(store, src, "processbench", fast=fast)
            out.append(_rows(store, rep.dataset_id))
    return out[0], out[1]


def _independent(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]


def _key(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", ["valid.jsonl", "valid.json"])
def test_samples_store_the_same_rows_both_ways(tmp_path: Path, name: str) -> None:
    fast, slow = _both(tmp_path, DATA / name)
    assert fast == slow
    recs = _independent(DATA / name)
    assert [t[3] for t in fast["traces"]] == [r["id"] for r in recs]
    assert [t[9] for t in fast["traces"]] == [r["label"] for r in recs]
    assert [s[2] for s in fast["steps"]] == [s for r in recs for s in r["steps"]]
    assert sorted(p[0] for p in fast["problems"]) == sorted({_key(r["problem"]) for r in recs})


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/ProcessBench is not present")
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_processbench_stores_the_same_rows_both_ways(tmp_path: Path, path: Path) -> None:
    fast, slow = _both(tmp_path, path)
    assert fast["traces"] == slow["traces"]
    assert fast["steps"] == slow["steps"]
    assert fast["problems"] == slow["problems"]
    recs = _independent(path)
    assert len(fast["traces"]) == len(recs) and len(fast["steps"]) == sum(len(r["steps"]) for r in recs)


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


_OK = {"id": "a", "generator": "g", "problem": "Two  apples\tand one", "steps": ["s1", "s2"],
       "final_answer_correct": True, "label": 1}


def _rec(**kw: Any) -> str:
    return json.dumps({**_OK, **kw})


def test_pretty_array_lines_integer_ids_and_odd_whitespace(tmp_path: Path) -> None:
    """Record lines of an indented JSON array, integer ids, missing ids ('line N'), and problem
    texts needing normalisation (every whitespace str.split() knows) agree with the Python path."""
    ws = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    recs = [{**_OK, "id": 7, "problem": f" x{ws}y \u3000"}, {k: v for k, v in _OK.items() if k != "id"},
            {**_OK, "id": "b", "problem": "{not an object} \\frac{1}{2}", "steps": ["{", "}\n{"]}]
    p = tmp_path / "pretty.json"
    p.write_text(json.dumps(recs, indent=2, ensure_ascii=False), encoding="utf-8")
    fast, slow = _both(tmp_path, p)
    assert fast == slow
    lines = p.read_text(encoding="utf-8").split("\n")  # JSON counts "\n" only (not U+2028 &c.)
    starts = [i + 1 for i, x in enumerate(lines) if x == "  {"]
    assert [t[2] for t in fast["traces"]] == starts  # source_line
    assert [t[3] for t in fast["traces"]] == ["7", f"line {starts[1]}", "b"]
    assert fast["traces"][0][4] == _key("x y")


_ESCAPED = ['say \\"hi\\"', "a\\b\\\\c", "caf\u00e9 \U0001F600", "tab\there\nnext", " lead and trail ",
            "\u2028sep\u2029", "ends in a backslash \\", "\\", '\\"', "[Math Problem]", "1. First", "nullish",
            "$100{,}001$", "a, ]", "b, }"]  # what a trailing comma looks like, inside a text
# Texts DuckDB could also have written for a non-string item (a number, a boolean, a list, {}), and
# texts that only look like JSON: the fast path parses such a file again, exactly.
_JSON_LOOKING = ['["not", "a list"]', '["y"]', "{\"k\": 1}", "{}", "1", "-2.5", "true", "null", '"quoted"']


def _strings_and_keys(value: Any) -> tuple[int, int]:
    """Independent count of the JSON strings (keys included) and of the keys in a parsed value."""
    if isinstance(value, str):
        return 1, 0
    if isinstance(value, list):
        pairs = [_strings_and_keys(v) for v in value]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    if isinstance(value, dict):
        pairs = [_strings_and_keys(v) for v in value.values()]
        return len(value) + sum(p[0] for p in pairs), len(value) + sum(p[1] for p in pairs)
    return 0, 0


@pytest.mark.parametrize("steps", [_ESCAPED, _JSON_LOOKING], ids=["escaped", "json-looking"])
def test_escaped_step_texts_decode_as_json_does(tmp_path: Path, steps: list[str]) -> None:
    """Steps are decoded by DuckDB: every JSON escape, raw non-ASCII, backslashes before quotes and
    texts that look like JSON give the texts ``json.loads`` gives; the byte scan counts the
    file's strings and keys as a JSON parse does."""
    recs = [{**_OK, "steps": steps, "label": -1}, {**_OK, "id": "b", "steps": ["x"], "label": 0}]
    lines = [json.dumps(recs[0]), json.dumps(recs[1], ensure_ascii=False).replace("x", "\\u0078")]
    p = _write(tmp_path, "esc.jsonl", lines)
    fast, slow = _both(tmp_path, p)
    assert fast == slow
    assert [s[2] for s in fast["steps"]] == steps + ["x"]
    assert [s[1] for s in fast["steps"]] == list(range(len(steps))) + [0]
    found = scan(p, "jsonl")
    assert found is not None
    strings, keys = (sum(c) for c in zip(*(_strings_and_keys(r) for r in recs)))
    assert (found.quotes, found.key_tokens, found.n_lines) == (2 * strings, keys, 2)


def test_every_whitespace_character_keys_problems_as_python(tmp_path: Path) -> None:
    """One record per character ``str.split()`` splits on, alone inside a problem text: each
    problem key is the hash of the normalised text, as the Python reader computes it."""
    ws = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    recs = [{**_OK, "id": f"w{i}", "problem": f"a{ch}b"} for i, ch in enumerate(ws)]
    p = _write(tmp_path, "ws.jsonl", [json.dumps(r) for r in recs] + [json.dumps({**_OK, "id": "plain", "problem": "a b"})])
    fast, slow = _both(tmp_path, p)
    assert fast == slow
    assert {t[4] for t in fast["traces"]} == {_key("a b")}


@pytest.mark.parametrize("lines, field, message", [
    ([_rec(), _rec(id="b", label="1")], "label", "expected an integer, found a string"),
    ([_rec(), _rec(id="b", label=True)], "label", "expected an integer, found true/false"),
    ([_rec(), _rec(id="b", problem=5)], "problem", "expected a string, found an integer"),
    ([_rec(), _rec(id="b", steps=["x", 3])], "steps[1]", "expected a string, found an integer"),
    ([_rec(), _rec(id="b", final_answer_correct="yes")], "final_answer_correct", "expected true/false"),
    ([_rec(), _rec(id="b", label=2)], "label", "out of range for 2 steps"),
    ([_rec(), _rec(id="b", problem=" \n ")], "problem", "empty problem text"),
    ([_rec(), _rec(id="b", steps=[])], "steps", "empty step list"),
    ([_rec(), _rec(id="b", steps="s1")], "steps", "expected a list, found a string"),
    ([_rec(), _rec(id="b", steps=["x", None])], "steps[1]", "expected a string, found null"),
    ([_rec(), _rec(id="b", steps=["x", ["y"]])], "steps[1]", "expected a string, found a list"),
    ([_rec(), _rec(id="b", steps=["x", True])], "steps[1]", "expected a string, found true/false"),
    ([_rec(), _rec(id="b", steps=["x", 1.5])], "steps[1]", "expected a string, found a number"),
    ([_rec(), _rec(id="b", steps=["x", {"k": "v"}])], "steps[1]", "expected a string, found an object"),
    ([_rec(), _rec(id="b", steps=["x", {}])], "steps[1]", "expected a string, found an object"),
    ([_rec(), _rec(id="b", steps=["x", 1, ["a", "b"]])], "steps[1]", "expected a string, found an integer"),
    ([_rec(), _rec()], "id", "duplicate id 'a' (first on line 1)"),
    ([_rec(), _rec(id="b").replace('"s2"]', '"s2" , ]')], None, "malformed JSON"),  # DuckDB accepts it
    ([_rec(), _rec(id="b").replace('"label": 1}', '"label": 1,}')], None, "malformed JSON"),
])
def test_invalid_records_fall_back_to_the_python_message(tmp_path: Path, lines: list[str], field: str,
                                                         message: str) -> None:
    """DuckDB would cast these silently; the check hands them to the Python reader, whose message
    names line 2 and the field."""
    p = _write(tmp_path, "bad.jsonl", lines)
    with Store(tmp_path / "s.duckdb") as store:
        assert not fast_path_applies(store, p)
        with pytest.raises(ImportFailed) as info:
            import_file(store, p, "processbench")
        assert info.value.line == 2 and info.value.field == field and message in info.value.message
        assert store.cursor().execute("SELECT count(*) FROM traces").fetchone() == (0,)


@pytest.mark.parametrize("lines", [
    [_rec(), "", _rec(id="b")],                                  # a blank line: line numbers shift
    [_rec(), json.dumps({**_OK, "id": "b", "extra": [1]})],       # another key: it becomes metadata
    [_rec(), json.dumps({**_OK, "id": "b"}).replace('"label":', '"label" :')],  # a key spaced before ':'
    [_rec(), json.dumps({**_OK, "id": None})],                   # a null id is 'None' in the Python path
])
def test_what_the_fast_path_cannot_vouch_for_imports_through_python(tmp_path: Path, lines: list[str]) -> None:
    p = _write(tmp_path, "odd.jsonl", lines)
    with Store(tmp_path / "a.duckdb") as store:
        assert not fast_path_applies(store, p)
    fast, slow = _both_unforced(tmp_path, p)
    assert fast == slow


def _both_unforced(tmp_path: Path, src: Path) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]]]:
    out = []
    for fast in (True, False):
        with Store(tmp_path / f"u{fast}.duckdb") as store:
            rep = import_file(store, src, "processbench", fast=fast)
            out.append(_rows(store, rep.dataset_id))
    return out[0], out[1]


def test_reimport_and_existing_problems(tmp_path: Path) -> None:
    """A problem already stored is not inserted again; the same file twice is a no-op."""
    with Store(tmp_path / "s.duckdb") as store:
        a = import_file(store, DATA / "valid.jsonl", "processbench", fast=False)
        b = import_file(store, DATA / "valid.json", "processbench")
        again = import_file(store, DATA / "valid.json", "processbench")
        assert again.already_present and b.traces == a.traces
        n = store.cursor().execute("SELECT count(*) FROM problems").fetchone()
        assert n == (len({_key(r["problem"]) for r in _independent(DATA / "valid.jsonl")}),)
