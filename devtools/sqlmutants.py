"""Changes to the SQL inside a string literal, for devtools/mutants.py: the breakages a test
of the SQL must notice (mutmut, inside a string, only changes the letter case).

* ``IS NULL`` ↔ ``IS NOT NULL``;
* the first term of an ``ORDER BY``: ascending ↔ descending;
* each condition of a ``WHERE`` (conditions joined by ``AND``) dropped: it becomes
  ``(condition OR 1)``, which keeps its ``?`` so that the statement binds the same parameters;
* each comparison inside a ``WHERE``: ``=`` ↔ ``!=``, ``<`` ↔ ``<=``, ``>`` ↔ ``>=``.

Quoted values ('...') are left alone; ``BETWEEN x AND y`` is not understood (none is used).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

NULL_TEST = re.compile(r"\bIS\s+(NOT\s+)?NULL\b", re.IGNORECASE)
ORDER_BY = re.compile(r"\bORDER\s+BY\s+[\w.]+(?:\([^()]*\))?(\s+(?:ASC|DESC)\b)?", re.IGNORECASE)
WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
CLAUSE_END = re.compile(r"\b(?:ORDER\s+BY|GROUP\s+BY|LIMIT|HAVING|RETURNING|UNION|WINDOW)\b",
                        re.IGNORECASE)
AND = re.compile(r"\bAND\b", re.IGNORECASE)
COMPARISON = re.compile(r"<=|>=|!=|<>|==|=|<|>")
FLIPPED = {"=": "!=", "==": "!=", "!=": "=", "<>": "=", "<": "<=", "<=": "<", ">": ">=", ">=": ">"}


def sql_changes(sql: str) -> Iterator[tuple[str, str]]:
    """Each change as (the changed SQL, what changed)."""
    depth = _depths(sql)

    def change(start: int, end: int, text: str, what: str) -> tuple[str, str]:
        return sql[:start] + text + sql[end:], what

    for found in _unquoted(NULL_TEST, sql, depth):
        text = "IS NULL" if found.group(1) else "IS NOT NULL"
        yield change(found.start(), found.end(), text, f"{found.group()} → {text}")
    for found in _unquoted(ORDER_BY, sql, depth):
        term_end = found.start(1) if found.group(1) else found.end()
        text = "" if (found.group(1) or "").strip().upper() == "DESC" else " DESC"
        yield change(term_end, found.end(), text,
                     f"{found.group()} → {sql[found.start():term_end]}{text}")
    for start, end in _where_clauses(sql, depth):
        for condition_start, condition_end in _conditions(sql, depth, start, end):
            condition = sql[condition_start:condition_end]
            yield change(condition_start, condition_end, f"({condition} OR 1)",
                         f"WHERE without {condition}")
        for found in _unquoted(COMPARISON, sql, depth, start, end):
            flipped = FLIPPED[found.group()]
            yield change(found.start(), found.end(), flipped, f"{found.group()} → {flipped}")


def _depths(sql: str) -> list[int | None]:
    """For each character: how many brackets are open before it; None inside a quoted value."""
    depths: list[int | None] = []
    depth, quoted = 0, False
    for char in sql:
        quoted = quoted != (char == "'")
        depths.append(None if quoted or char == "'" else depth)
        if not quoted:
            depth += {"(": 1, ")": -1}.get(char, 0)
    return depths + [depth]


def _unquoted(pattern: re.Pattern, sql: str, depth: list[int | None], start: int = 0,
              end: int | None = None) -> Iterator[re.Match]:
    return (found for found in pattern.finditer(sql, start, len(sql) if end is None else end)
            if depth[found.start()] is not None)


def _where_clauses(sql: str, depth: list[int | None]) -> Iterator[tuple[int, int]]:
    """(start, end) of each WHERE clause: up to the bracket that closes its level, the next
    clause of its statement (ORDER BY, LIMIT, ...), or the end."""
    for where in _unquoted(WHERE, sql, depth):
        level, end = depth[where.start()], where.end()
        while end < len(sql) and not (depth[end] == level and (
                sql[end] == ")" or CLAUSE_END.match(sql, end))):
            end += 1
        yield where.end(), end


def _conditions(sql: str, depth: list[int | None], start: int,
                end: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each condition of a WHERE clause, without the space around it."""
    level = depth[start]
    cuts = [found for found in _unquoted(AND, sql, depth, start, end)
            if depth[found.start()] == level]
    for begin, stop in zip([start, *(cut.end() for cut in cuts)],
                           [*(cut.start() for cut in cuts), end], strict=True):
        text = sql[begin:stop]
        yield begin + len(text) - len(text.lstrip()), stop - len(text) + len(text.rstrip())
