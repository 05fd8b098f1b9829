"""The mutation tool of `make mutation-fresh`: which changes it makes, and where it makes none."""

import ast

from devtools.mutants import mutants_of
from devtools.sqlmutants import sql_changes

SOURCE = '''"""A docstring is left alone."""
from __future__ import annotations


def rule(a: int, b: int | None = None, flag: bool = True) -> int:
    if a < b and not flag:
        return a + b
    print("done")
    return 7 if a is None else a * b


LIMIT = 500  # pragma: no mutate (the reason)
'''


def _changes(tmp_path, source: str) -> list[tuple[int, str]]:
    path = tmp_path / "module.py"
    path.write_text(source)
    mutants = mutants_of(path)
    for mutant in mutants:
        ast.parse(mutant.source)  # every mutant is still Python
    return [(mutant.line, mutant.change) for mutant in mutants]


def test_each_operator_changes_one_thing_in_code_and_leaves_docstrings_and_annotations(tmp_path):
    assert _changes(tmp_path, SOURCE) == [
        (5, "None → True"), (5, "True → False"), (6, "< → <="), (6, "and → or"),
        (6, "not x → x"), (7, "return x → return None"), (7, "+ → -"), (8, "call dropped"),
        (9, "7 → 8"), (9, "return x → return None"), (9, "is → is not"), (9, "None → True"),
        (9, "* → /")]
    negated = next(m for m in mutants_of(tmp_path / "module.py") if m.change == "not x → x")
    assert negated.source.splitlines()[5] == "    if a < b and (flag):"


def test_a_line_marked_no_mutate_keeps_its_code(tmp_path):
    assert _changes(tmp_path, "LIMIT = 500  # pragma: no mutate (why)\nOTHER = 1\n") == [
        (2, "1 → 2")]


def test_sql_in_a_string_is_mutated_where_a_test_of_it_must_notice(tmp_path):
    source = 'SQL = ("SELECT seq FROM outbox WHERE sent_at IS NULL AND seq > ? "\n' \
             '       "ORDER BY seq LIMIT ?")\nTEXT = "not SQL = 1"\n'
    assert [change for _, change in _changes(tmp_path, source)] == [
        "SQL: IS NULL → IS NOT NULL", "SQL: ORDER BY seq → ORDER BY seq DESC",
        "SQL: WHERE without sent_at IS NULL", "SQL: WHERE without seq > ?", "SQL: > → >="]


def test_a_dropped_condition_keeps_its_parameters_and_quoted_values_are_left_alone():
    changed = dict((what, sql) for sql, what in sql_changes(
        "DELETE FROM t WHERE k = 'a=b' AND n < (SELECT max(n) FROM t) ORDER BY n DESC"))
    assert changed == {
        "ORDER BY n DESC → ORDER BY n":
            "DELETE FROM t WHERE k = 'a=b' AND n < (SELECT max(n) FROM t) ORDER BY n",
        "WHERE without k = 'a=b'":
            "DELETE FROM t WHERE (k = 'a=b' OR 1) AND n < (SELECT max(n) FROM t) ORDER BY n DESC",
        "WHERE without n < (SELECT max(n) FROM t)":
            "DELETE FROM t WHERE k = 'a=b' AND (n < (SELECT max(n) FROM t) OR 1) ORDER BY n DESC",
        "= → !=": "DELETE FROM t WHERE k != 'a=b' AND n < (SELECT max(n) FROM t) ORDER BY n DESC",
        "< → <=": "DELETE FROM t WHERE k = 'a=b' AND n <= (SELECT max(n) FROM t) ORDER BY n DESC"}
