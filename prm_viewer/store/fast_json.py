"""The SQL fast path of a ProcessBench import: DuckDB parses, validates and writes.

:class:`FastImport` stages the file in an in-memory database attached for the import (outside the
store's transaction, so that DuckDB rejecting the file dooms nothing), checks in one SQL query
everything the Python path checks (types without DuckDB's silent casts, ranges, unique ids).
The parse itself decodes the steps to their texts (and flags a step that is not a string), so the
staged table holds each step once and the store's steps are written from it by one unnest.
When the file passes, :meth:`FastImport.write` inserts traces, steps and problems inside the
import's transaction; when it does not (or DuckDB cannot read it), the caller imports through the
Python reader, which names the file, line and field of the first problem.

The stored rows equal the Python path's (``tests/test_fast_import.py`` compares them row for
row): problem keys are computed once per distinct problem text, in SQL (``sha256``) for a text
that is its own normal form (checked with :data:`ODD_SPACE`) and by ``store.keys.problem_key``
itself for the rest.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from prm_viewer.store.base import StoreBase
from prm_viewer.store.keys import problem_key

KNOWN_KEYS = ("id", "generator", "problem", "steps", "final_answer_correct", "label")
# A text holding any of these is not its own normal form ("".join(text.split())): the characters
# str.isspace() accepts other than the space, two spaces, or a space at either end.
_OTHER_SPACES = (0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
                 0x2029, 0x202F, 0x205F, 0x3000)
ODD_SPACE = "[" + "".join(f"\\x{{{c:x}}}" for c in _OTHER_SPACES) + "]|  |^ | $"
_COLUMNS = "{" + ", ".join(f"{k}: '{'JSON[]' if k == 'steps' else 'JSON'}'" for k in KNOWN_KEYS) + "}"


class FastImport:
    """One file staged for the fast path; use as a context manager (detaches the stage)."""

    def __init__(self, store: StoreBase, path: Path, kind: str, record_lines: list[int] | None) -> None:
        self.store = store
        self.db = "prm_fast_" + secrets.token_hex(6)
        self.cur = store.con.cursor()
        self.cur.execute(f"ATTACH ':memory:' AS {self.db}")
        self.n = 0
        self.lines = False
        self.ok = self._stage(path, kind, record_lines)

    def __enter__(self) -> FastImport:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.cur.execute(f"DETACH {self.db}")
        finally:
            self.cur.close()

    def _stage(self, path: Path, kind: str, record_lines: list[int] | None) -> bool:
        db, cur = self.db, self.cur
        fmt = "newline_delimited" if kind == "jsonl" else "array"
        try:
            # One pass over the parse: the scalars stay JSON (their checks need the JSON type), the
            # steps become their texts at once. Each step must be a JSON string literal (else its
            # text is NULL and ``list_count`` tells): without a backslash it holds no escape, so its
            # text is what lies between the quotes; only the others are parsed.
            cur.execute(
                f"""CREATE TABLE {db}.src AS
                    SELECT id, generator, problem, final_answer_correct, label, steps IS NOT NULL AS has_steps,
                           texts, coalesce(len(texts), 0)::INTEGER AS n_steps,
                           coalesce(len(texts) > 0 AND list_count(texts) = len(texts), false) AS steps_ok
                    FROM (SELECT *, list_transform(steps::VARCHAR[], lambda x: CASE
                                      WHEN NOT starts_with(x, '"') THEN NULL
                                      WHEN contains(x, '\\') THEN json_extract_string(x, '$')
                                      ELSE x[2:-2] END) AS texts
                          FROM read_json(?, format = '{fmt}', columns = {_COLUMNS}))""",
                [str(path)])
        except duckdb.Error:
            return False  # the Python reader says what is wrong, on which line
        if record_lines is not None:
            cur.execute(f"CREATE TABLE {db}.lines AS SELECT unnest(?::INTEGER[]) AS line", [record_lines])
        # Problem keys, once per distinct text: SQL hashes the texts that are already normalised
        # (no whitespace but single inner spaces), problem_key() itself the rest (and tells empty ones).
        cur.execute(f"""
            CREATE TABLE {db}.keys AS
            SELECT problem, first, CASE WHEN problem <> '' AND NOT regexp_matches(problem, '{ODD_SPACE}')
                                        THEN left(sha256(problem), 16) END AS problem_id
            FROM (SELECT json_extract_string(problem, '$') AS problem, min(rowid) AS first FROM {db}.src
                  WHERE json_type(problem) = 'VARCHAR' GROUP BY ALL)""")
        odd = [r[0] for r in cur.execute(f"SELECT problem FROM {db}.keys WHERE problem_id IS NULL").fetchall()]
        if odd:
            fixed = pa.table({"problem": pa.array(odd, pa.string()),
                              "problem_id": pa.array([problem_key(x) if x.split() else None for x in odd], pa.string())})
            cur.register("_fast_keys", fixed)
            try:
                cur.execute(f"UPDATE {db}.keys k SET problem_id = f.problem_id FROM _fast_keys f WHERE k.problem = f.problem")
            finally:
                cur.unregister("_fast_keys")
        self.lines = record_lines is not None
        return True

    def _rows(self) -> str:
        """The staged records as trace rows (SQL), with ``ok``: every check the Python path makes."""
        db = self.db
        line, join = ("l.line", f" POSITIONAL JOIN {db}.lines l") if self.lines else ("s.rowid + 1", "")
        return f"""
            SELECT s.rowid::INTEGER AS ordinal, ({line})::INTEGER AS source_line,
                   CASE WHEN s.id IS NULL THEN 'line ' || ({line})
                        WHEN json_type(s.id) = 'VARCHAR' THEN json_extract_string(s.id, '$')
                        WHEN json_type(s.id) IN ('BIGINT', 'UBIGINT') THEN CAST(TRY_CAST(s.id AS HUGEINT) AS VARCHAR)
                   END AS source_id,
                   k.problem, k.problem_id, json_extract_string(s.generator, '$') AS generator,
                   TRY_CAST(s.final_answer_correct AS BOOLEAN) AS final_answer_correct,
                   TRY_CAST(s.label AS INTEGER) AS gold_first_error, s.n_steps,
                   coalesce(k.problem_id IS NOT NULL
                            AND (s.id IS NULL OR json_type(s.id) IN ('VARCHAR', 'BIGINT', 'UBIGINT'))
                            AND (s.generator IS NULL OR json_type(s.generator) = 'VARCHAR')
                            AND (s.final_answer_correct IS NULL OR json_type(s.final_answer_correct) = 'BOOLEAN')
                            AND s.steps_ok
                            AND json_type(s.label) IN ('BIGINT', 'UBIGINT')
                            AND TRY_CAST(s.label AS BIGINT) BETWEEN -1 AND s.n_steps - 1, false) AS ok,
                   (s.id IS NOT NULL)::INTEGER + (s.generator IS NOT NULL)::INTEGER + (s.problem IS NOT NULL)::INTEGER
                   + s.has_steps::INTEGER + (s.final_answer_correct IS NOT NULL)::INTEGER
                   + (s.label IS NOT NULL)::INTEGER AS n_keys
            FROM {db}.src s{join} LEFT JOIN {db}.keys k ON k.problem = json_extract_string(s.problem, '$')"""

    def check(self, key_tokens: int, n_lines: int | None) -> bool:
        """True when every record is valid and the byte-level facts agree: ``key_tokens`` (the
        file's ``":``) equal to the known keys found (no other key), ids unique, non-empty
        problems, and, for JSON Lines, ``n_lines`` equal to the number of records."""
        if not self.ok:
            return False
        # The trace rows are computed once (with their checks) and kept for :meth:`write`.
        self.cur.execute(f"CREATE TABLE {self.db}.rows AS {self._rows()}")
        row = self.cur.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE NOT ok), coalesce(sum(n_keys), 0), count(DISTINCT source_id)
                FROM {self.db}.rows""").fetchone()
        assert row is not None
        n, bad, keys, distinct = (int(v) for v in row)
        self.n = n
        return n > 0 and bad == 0 and keys == key_tokens and distinct == n and (n_lines is None or n_lines == n)

    def write(self, dataset_id: str, split: str | None, batch_steps: int,
              progress: Callable[[int], None] | None = None) -> None:
        """Insert the staged traces, their steps and new problems, in the calling thread's
        transaction (the store's import transaction), in batches of about ``batch_steps`` steps
        when ``progress`` is given (it gets the traces written so far after each), else at once. Call after :meth:`check`."""
        db = self.db
        with self.store.transaction() as cur:
            row = cur.execute(f"SELECT count(*), sum(n_steps) FROM {db}.src").fetchone()
            assert row is not None
            n, steps = int(row[0]), int(row[1])
            # Batches only serve progress reports: each re-joins the problem keys.
            per = max(1, batch_steps * n // max(steps, 1)) if progress else max(n, 1)
            cur.execute(
                f"""INSERT INTO problems
                    SELECT problem_id, arg_min(problem, first), NULL FROM {db}.keys
                    WHERE problem_id IS NOT NULL AND problem_id NOT IN (SELECT problem_id FROM problems)
                    GROUP BY problem_id""")
            for lo in range(0, n, per):
                hi = min(lo + per, n)
                cur.execute(
                    f"""INSERT INTO traces
                        SELECT ? || '-' || ordinal, ?, ordinal, source_line, source_id, problem_id, NULL, generator,
                               NULL, final_answer_correct, gold_first_error, NULL, NULL, ?, n_steps, false, NULL
                        FROM {db}.rows WHERE ordinal >= ? AND ordinal < ? ORDER BY ordinal""",
                    [dataset_id, dataset_id, split, lo, hi])
                # The texts were decoded (and checked) in the parse: one unnest, written once; the
                # trace id is formed once per trace (before the unnest), not once per step.
                cur.execute(
                    f"""INSERT INTO steps
                        SELECT trace_id, generate_subscripts(texts, 1)::INTEGER - 1, unnest(texts), NULL::TINYINT
                        FROM (SELECT ? || '-' || rowid AS trace_id, texts FROM {db}.src WHERE rowid >= ? AND rowid < ?)""",
                    [dataset_id, lo, hi])
                if progress:
                    progress(hi)
