"""The SQL fast path of a ProcessBench import: DuckDB parses, validates and writes.

:class:`FastImport` stages the file in an in-memory database attached for the import (outside the
store's transaction, so that DuckDB rejecting the file dooms nothing). One statement parses the
file and computes, per record, the trace row as stored (texts, the steps' texts as one list) and a
flag per check the Python path makes (types without DuckDB's silent casts, ranges); the steps are
parsed straight into a list of texts, and a file with a step text that DuckDB could have written
for a non-string item is parsed again exactly (see :meth:`FastImport._parse`).
:meth:`FastImport.check` is one aggregate over the stage (every flag, unique ids, and the byte
scan's counts of keys and strings). When the file passes, :meth:`FastImport.write` inserts the
steps (one unnest, keyed by the integer trace key) while another thread computes the problem keys
(once per distinct problem text), then problems and traces, inside the import's transaction;
when it does not (or DuckDB cannot read it), the caller imports through the
Python reader, which names the file, line and field of the first problem.

The stored rows equal the Python path's (``tests/test_fast_import.py`` compares them row for
row): problem keys are computed in SQL (``sha256``) for a text that is its own normal form
(checked with :data:`ODD_SPACE`), and by ``store.keys.problem_key`` itself for the rest.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa

from prm_viewer.store.base import StoreBase, trace_key_base
from prm_viewer.store.keys import problem_key

KNOWN_KEYS = ("id", "generator", "problem", "steps", "final_answer_correct", "label")
# A text holding any of these is not its own normal form ("".join(text.split())): the characters
# str.isspace() accepts other than the space, two spaces, or a space at either end.
_OTHER_SPACES = (0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028,
                 0x2029, 0x202F, 0x205F, 0x3000)
_OTHER_CLASS = "".join(f"\\x{{{c:x}}}" for c in _OTHER_SPACES)
ODD_SPACE = f"[{_OTHER_CLASS}]|  |^ | $"
# A text with nothing but whitespace (str.split() finds no word): the Python path's "empty problem text".
_BLANK = f"[ {_OTHER_CLASS}]*"
_COLUMNS = "{" + ", ".join(f"{k}: '{'VARCHAR[]' if k == 'steps' else 'JSON'}'" for k in KNOWN_KEYS) + "}"
_EXACT_COLUMNS = "{" + ", ".join(f"{k}: 'JSON'" for k in KNOWN_KEYS) + "}"
# A step text that could be the JSON text DuckDB writes for a non-string item (null is no text).
_JSON_ITEM = ("CASE WHEN json_valid(t) THEN json_type(t) NOT IN ('VARCHAR', 'NULL') "
              "AND (json_type(t) <> 'OBJECT' OR t = '{}') ELSE false END")


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
        try:
            self._parse(path, kind, exact=False)
            if cur.execute(f"SELECT bool_or(unsure) FROM {db}.src").fetchall()[0][0]:
                cur.execute(f"DROP TABLE {db}.src")
                self._parse(path, kind, exact=True)
        except duckdb.Error:
            return False  # the Python reader says what is wrong, on which line
        if record_lines is not None:
            cur.execute(f"CREATE TABLE {db}.lines AS SELECT unnest(?::INTEGER[]) AS line", [record_lines])
        self.lines = record_lines is not None
        return True

    def compute_keys(self) -> tuple[pa.Table, pa.Table]:
        """Problem keys once per distinct text (fewer than the records where problems repeat), on
        the stage's cursor (:meth:`write` runs it while its own thread writes the steps): SQL
        hashes a text that is its own normal form (no whitespace but single inner spaces),
        problem_key() the others. Returns, as Arrow tables (a table made here after the import's
        transaction began is not visible to it), each record's key in file order (``problem_id``)
        and each key's first record (``problem_id, first_row``). A blank text has no key (NULL,
        which ``traces.problem_id`` refuses): :meth:`check` has already refused such files."""
        db, cur = self.db, self.cur
        cur.execute(
            f"""CREATE OR REPLACE TABLE {db}.keys AS
                SELECT problem, first_row,
                       CASE WHEN problem <> '' AND NOT regexp_matches(problem, '{ODD_SPACE}')
                            THEN left(sha256(problem), 16) END AS problem_id
                FROM (SELECT problem, min(rowid) AS first_row FROM {db}.src WHERE problem IS NOT NULL GROUP BY problem)""")
        odd = [r[0] for r in cur.execute(f"SELECT problem FROM {db}.keys WHERE problem_id IS NULL").fetchall()]
        if odd:
            fixed = pa.table({"problem": pa.array(odd, pa.string()),
                              "problem_id": pa.array([problem_key(x) if x.split() else None for x in odd], pa.string())})
            cur.register("_fast_keys", fixed)
            try:
                cur.execute(f"UPDATE {db}.keys k SET problem_id = f.problem_id FROM _fast_keys f WHERE k.problem = f.problem")
            finally:
                cur.unregister("_fast_keys")
        per_record = cur.execute(
            f"SELECT k.problem_id FROM {db}.src s LEFT JOIN {db}.keys k USING (problem) ORDER BY s.rowid").arrow().read_all()
        first = cur.execute(f"SELECT problem_id, min(first_row) AS first_row FROM {db}.keys GROUP BY problem_id").arrow().read_all()
        return per_record, first

    def _parse(self, path: Path, kind: str, exact: bool) -> None:
        """One statement: parse the file and compute each trace row as stored, with a flag per check.

        Each scalar field is read as JSON, so that nothing is cast silently ("1" is not 1). The
        steps are read straight into VARCHAR[] (decoded once, by the parse), where DuckDB writes a
        non-string item as its JSON text (1 -> '1', [..] -> '[..]'): a step text that is itself a
        JSON number, boolean, array or empty object leaves the trace ``unsure`` (a text that is a
        JSON object with keys is no object item: :meth:`check` counts every key of the file), and
        when any trace is, the file is parsed again ``exact``: steps as one JSON value per trace,
        decoded by one wildcard extraction, every item a string by ``json_structure``. DuckDB
        writes a JSON value compactly, so its first character tells a string ('"') or an array
        ('[') without parsing the long values again."""
        fmt = "newline_delimited" if kind == "jsonl" else "array"
        columns = _EXACT_COLUMNS if exact else _COLUMNS
        if exact:
            texts = "json_extract_string(steps, '$[*]')"
            typed = """starts_with(steps, '[') AND json_structure(steps) = '["VARCHAR"]' AND"""
            unsure = "false"
        else:
            texts, typed = "steps", ""
            unsure = f"coalesce(list_bool_or(list_transform(steps, lambda t: {_JSON_ITEM})), false)"
        self.cur.execute(
            f"""CREATE TABLE {self.db}.src AS
                SELECT CASE WHEN json_type(id) = 'VARCHAR' THEN json_extract_string(id, '$')
                            WHEN json_type(id) IN ('BIGINT', 'UBIGINT')
                            THEN CAST(TRY_CAST(id AS HUGEINT) AS VARCHAR) END AS source_id,
                       CASE WHEN starts_with(problem, '"') THEN json_extract_string(problem, '$') END AS problem,
                       json_extract_string(generator, '$') AS generator,
                       TRY_CAST(final_answer_correct AS BOOLEAN) AS final_answer_correct,
                       TRY_CAST(label AS INTEGER) AS gold_first_error, texts,
                       coalesce(len(texts), 0)::INTEGER AS n_steps,
                       coalesce((id IS NULL OR json_type(id) IN ('VARCHAR', 'BIGINT', 'UBIGINT'))
                                AND (generator IS NULL OR json_type(generator) = 'VARCHAR')
                                AND (final_answer_correct IS NULL OR json_type(final_answer_correct) = 'BOOLEAN')
                                AND starts_with(problem, '"')
                                AND NOT regexp_full_match(json_extract_string(problem, '$'), '{_BLANK}') AND {typed}
                                len(texts) > 0 AND list_count(texts) = len(texts)
                                AND json_type(label) IN ('BIGINT', 'UBIGINT')
                                AND TRY_CAST(label AS BIGINT) BETWEEN -1 AND len(texts) - 1, false) AS ok,
                       {unsure} AS unsure,
                       (id IS NOT NULL)::INTEGER + (generator IS NOT NULL)::INTEGER
                       + (problem IS NOT NULL)::INTEGER + (steps IS NOT NULL)::INTEGER
                       + (final_answer_correct IS NOT NULL)::INTEGER + (label IS NOT NULL)::INTEGER AS n_keys,
                       coalesce(json_type(id) = 'VARCHAR', false)::INTEGER + (generator IS NOT NULL)::INTEGER
                       + (problem IS NOT NULL)::INTEGER AS n_strings
                FROM (SELECT *, {texts} AS texts FROM read_json(?, format = '{fmt}', columns = {columns}))""",
            [str(path)])

    def _source(self) -> tuple[str, str]:
        """The staged records' source-line expression and FROM clause (SQL): the record number for
        JSON Lines, the line the byte scan found for a JSON array."""
        if self.lines:
            return "l.line", f"{self.db}.src s POSITIONAL JOIN {self.db}.lines l"
        return "(s.rowid + 1)::INTEGER", f"{self.db}.src s"

    def check(self, key_tokens: int, n_lines: int | None, quotes: int) -> bool:
        """True when every record is valid and the byte-level facts agree: ``key_tokens`` (the
        file's ``":``) equal to the known keys found (no other key), ``quotes`` (the file's
        unescaped ``"``) twice the strings expected (keys, string fields, one per step: so every
        step is a string), ids unique, every problem keyed, and, for JSON Lines, ``n_lines`` equal
        to the number of records (for a JSON array, one record line per record)."""
        if not self.ok:
            return False
        line, src = self._source()
        row = self.cur.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE NOT ok), coalesce(sum(n_keys), 0),
                       coalesce(sum(n_strings + n_steps), 0), count(DISTINCT coalesce(source_id, 'line ' || {line}))
                FROM {src}""").fetchall()[0]
        n, bad, keys, strings, distinct = (int(v) for v in row)
        self.n = n
        if self.lines:
            n_lines = int(self.cur.execute(f"SELECT count(*) FROM {self.db}.lines").fetchall()[0][0])
        return (n > 0 and bad == 0 and keys == key_tokens and quotes == 2 * (keys + strings)
                and distinct == n and (n_lines is None or n_lines == n))

    def write(self, dataset_id: str, split: str | None, batch_steps: int,
              progress: Callable[[int], None] | None = None) -> None:
        """Insert the staged traces, their steps and new problems, in the calling thread's
        transaction (the store's import transaction); the steps in batches of about
        ``batch_steps`` steps when ``progress`` is given (it gets the traces whose steps are
        written after each), else at once. The problem keys are computed meanwhile on the stage's
        cursor (another core). Call after :meth:`check`."""
        db = self.db
        line, src = self._source()
        with self.store.transaction() as cur:
            row = cur.execute(f"SELECT count(*), sum(n_steps) FROM {db}.src").fetchall()[0]
            n, steps = int(row[0]), int(row[1])
            per = max(1, batch_steps * n // max(steps, 1)) if progress else max(n, 1)
            base = trace_key_base(cur, dataset_id)
            with ThreadPoolExecutor(1, thread_name_prefix="prm-keys") as pool:
                keyed = pool.submit(self.compute_keys)
                for lo in range(0, n, per):
                    hi = min(lo + per, n)
                    # One unnest, against the integer trace key (no trace-id string per step).
                    cur.execute(
                        f"""INSERT INTO step_rows
                            SELECT ? + rowid, generate_subscripts(texts, 1)::INTEGER - 1, unnest(texts), NULL::TINYINT
                            FROM {db}.src WHERE rowid >= ? AND rowid < ?""",
                        [base, lo, hi])
                    if progress:
                        progress(hi)
                per_record, first = keyed.result()
            cur.register("_fast_record_keys", per_record)
            cur.register("_fast_first_rows", first)
            try:
                # The first text of each new problem key (in file order), as the Python path keeps it.
                cur.execute(
                    f"""INSERT INTO problems
                        SELECT k.problem_id, s.problem, NULL
                        FROM _fast_first_rows k JOIN {db}.src s ON s.rowid = k.first_row
                        WHERE k.problem_id NOT IN (SELECT problem_id FROM problems)""")
                cur.execute(
                    f"""INSERT INTO traces
                        SELECT ? || '-' || s.rowid, ?, s.rowid::INTEGER, {line},
                               coalesce(s.source_id, 'line ' || {line}), k.problem_id, NULL, s.generator, NULL,
                               s.final_answer_correct, s.gold_first_error, NULL, NULL, ?, s.n_steps, false, NULL,
                               ? + s.rowid
                        FROM {src} POSITIONAL JOIN _fast_record_keys k""",
                    [dataset_id, dataset_id, split, base])
            finally:
                cur.unregister("_fast_record_keys")
                cur.unregister("_fast_first_rows")

