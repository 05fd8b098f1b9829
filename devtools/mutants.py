"""The mutants of one Python file, for `make mutation-fresh` (devtools/fresh_mutation.py).

Each mutant changes one thing, found in the file's syntax tree:

* arithmetic ``+`` ↔ ``-``, ``*`` ↔ ``/`` (also in ``+=``);
* comparisons ``==`` ↔ ``!=``, ``<`` ↔ ``<=``, ``>`` ↔ ``>=``, ``is`` ↔ ``is not``, ``in`` ↔ ``not in``;
* ``and`` ↔ ``or``, and ``not x`` → ``x``;
* constants: a number n → n + 1, ``True`` ↔ ``False``, ``None`` → ``True``;
* ``return x`` → ``return None``, and a call whose result is unused → ``pass``;
* the SQL inside a string literal (devtools/sqlmutants.py).

Docstrings, annotations, f-strings and other strings are left alone, and so is code that
starts on a line holding ``# pragma: no mutate`` (code whose change nothing can observe).
"""

from __future__ import annotations

import ast
import io
import itertools
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from devtools.mutation import SQL_TEXT
from devtools.sqlmutants import sql_changes

ARITHMETIC = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*")}
COMPARISON = {ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.Lt: ("<(?!=)", "<="),
              ast.LtE: ("<=", "<"), ast.Gt: (">(?!=)", ">="), ast.GtE: (">=", ">"),
              ast.Is: (r"\bis\b(?!\s+not\b)", "is not"), ast.IsNot: (r"\bis\s+not\b", "is"),
              ast.In: (r"(?<!not )\bin\b", "not in"), ast.NotIn: (r"\bnot\s+in\b", "in")}
BOOLEAN = {ast.And: ("and", "or"), ast.Or: ("or", "and")}


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    change: str  #: what was changed, e.g. ``+ → -`` or ``SQL: IS NULL → IS NOT NULL``
    source: str  #: the whole file with the change


def mutants_of(path: str | Path) -> list[Mutant]:
    """Every mutant of the file, in the order of the file; none twice."""
    source = Path(path).read_text()
    sites = _Sites(source.encode())
    sites.visit(ast.parse(source, filename=str(path)))
    quiet, seen, found = _pragma_lines(source), {source}, []
    for line, change, start, end, text in sorted(sites.edits, key=lambda edit: edit[2:4]):
        mutated = (sites.data[:start] + text.encode() + sites.data[end:]).decode()
        if line not in quiet and mutated not in seen:
            seen.add(mutated)
            found.append(Mutant(str(path), line, change, mutated))
    return found


def _pragma_lines(source: str) -> set[int]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {token.start[0] for token in tokens
            if token.type == tokenize.COMMENT and "pragma: no mutate" in token.string}


class _Sites(ast.NodeVisitor):
    """Collects edits (line, change, start byte, end byte, new text): AST offsets count bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.starts = [0]
        for line in data.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.edits: list[tuple[int, str, int, int, str]] = []

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.starts[node.lineno - 1] + node.col_offset,
                self.starts[node.end_lineno - 1] + node.end_col_offset)

    def replace(self, node: ast.AST, text: str, change: str) -> None:
        self.edits.append((node.lineno, change, *self.span(node), text))

    def operator(self, left: ast.AST, right: ast.AST, pattern: str, text: str) -> None:
        """Replace the operator written between two operands."""
        start, end = self.span(left)[1], self.span(right)[0]
        gap = self.data[start:end].decode()
        found = re.search(pattern, gap)
        if found:
            self.edits.append((left.end_lineno, f"{found.group()} → {text}",
                               start + len(gap[:found.start()].encode()),
                               start + len(gap[:found.end()].encode()), text))

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if type(node.op) in ARITHMETIC:
            written, text = ARITHMETIC[type(node.op)]
            self.operator(node.left, node.right, re.escape(written), text)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if type(node.op) in ARITHMETIC:
            written, text = ARITHMETIC[type(node.op)]
            self.operator(node.target, node.value, re.escape(written + "="), text + "=")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for left, op, right in zip([node.left, *node.comparators[:-1]], node.ops,
                                   node.comparators, strict=True):
            self.operator(left, right, *COMPARISON[type(op)])
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        written, text = BOOLEAN[type(node.op)]
        for left, right in itertools.pairwise(node.values):
            self.operator(left, right, rf"\b{written}\b", text)
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            start, end = self.span(node.operand)
            self.replace(node, f"({self.data[start:end].decode()})", "not x → x")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or value is None:
            self.replace(node, str(not value), f"{value} → {not value}")
        elif isinstance(value, int | float):
            self.replace(node, repr(value + 1), f"{value!r} → {value + 1!r}")
        elif isinstance(value, str) and SQL_TEXT.match(value):
            for mutated, change in sql_changes(value):
                self.replace(node, repr(mutated), f"SQL: {change}")

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None and not (isinstance(node.value, ast.Constant)
                                           and node.value.value is None):
            self.replace(node.value, "None", "return x → return None")
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            self.replace(node, "pass", "call dropped")
            self.generic_visit(node)
        # a bare string is a docstring: left alone

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        """f-strings are left alone: Python 3.11 gives their parts no positions of their own."""

    def visit_arg(self, node: ast.arg) -> None:
        """Annotations are left alone (with ``from __future__ import annotations`` they are
        never evaluated), as are the returns of a def (not visited below)."""

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for part in [*node.decorator_list, node.args, *node.body]:
            self.visit(part)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
