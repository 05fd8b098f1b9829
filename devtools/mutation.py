"""`make mutation`: how many small breakages of the rules and the plumbing the unit tests catch.

1. mutmut, over the modules ``[tool.mutmut]`` in pyproject.toml names (the models, the saga,
   retry queue, inbox, outbox, codec, processing, unit of work, dead letters, database),
   against tests/unit, with one status line every 15 s;
2. the changes to SQL text that mutmut cannot make (it only changes the letter case inside
   strings): ``=`` to ``!=``, ``AND`` to ``OR``, ``OR IGNORE`` to ``OR REPLACE``, ...
   (:data:`SQL_MUTANTS`), each against the unit tests in a copy of the tree.

Then a table per module, every mutant not killed with its diff in
.run/mutation/survivors.txt, and last one line per module checked and the total::

    mutation: module=shared/outbox.py killed=<n> survived=<n> score=<p>%
    mutation: killed=<n> survived=<n> score=<p>%

Those lines are mutmut's: score = killed / all mutants, and ``survived`` counts every mutant not
killed — "no tests", timeouts and suspicious ones as well as the survivors proper. Survivors
that only change the letter case of SQL text (SQLite reads keywords and names in any case)
are marked as such but still counted. The exit status is 0 whatever the score (a report, not
a gate); it is non-zero only when mutmut itself fails. ``python -m devtools.mutation
"shared.retry*"`` checks a subset and keeps earlier results. docs/testing.md has the latest
score and explains every survivor; `make mutation-fresh` (devtools/fresh_mutation.py) is the
slower run with each mutant in a fresh test process.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".run" / "mutation"
MUTMUT = "mutmut==3.8.1"
# mutmut 3.8.1 declares click>=8.4.2, but faust-streaming needs click<8.4 and mutmut works
# with click 8.3; so mutmut goes in without its declared dependencies, and these beside it.
MUTMUT_NEEDS = ("libcst", "coverage", "setproctitle", "textual")
STATUS_EVERY_SECONDS = 15.0
PROGRESS = re.compile(r"(\d+)/(\d+)\s+🎉 (\d+)\s+🫥 (\d+)\s+⏰ (\d+)\s+🤔 (\d+)\s+🙁 (\d+)")
RESULT = re.compile(r"^\s+(\S+): (.+)$")
SQL_TEXT = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|WHERE)\b", re.IGNORECASE)
SQL_CASE = "survived, SQL letter case only"
#: (file, SQL as written, SQL broken): what the retry queue, inbox and outbox promise.
SQL_MUTANTS = [
    ("shared/retry.py", "e.order_key = q.order_key", "e.order_key != q.order_key"),
    ("shared/retry.py", "AND e.seq < q.seq", "AND e.seq <= q.seq"),
    ("shared/retry.py", "q.next_attempt_at <= ?", "q.next_attempt_at < ?"),
    ("shared/retry.py", "ORDER BY q.seq LIMIT ?", "ORDER BY q.seq DESC LIMIT ?"),
    ("shared/retry.py", "? ORDER BY q.seq\"", "? ORDER BY q.seq DESC\""),
    ("shared/retry.py", "INSERT OR IGNORE", "INSERT OR REPLACE"),
    ("shared/retry.py", "WHERE order_key = ?", "WHERE order_key != ?"),
    ("shared/retry.py", "event_id = ? AND status = ?", "event_id = ? OR status = ?"),
    ("shared/retry.py", "attempts = 0, next_attempt_at = 0", "next_attempt_at = 0"),
    ("shared/retry.py", "min(q.next_attempt_at)", "max(q.next_attempt_at)"),
    ("shared/inbox.py", "INSERT OR IGNORE", "INSERT OR REPLACE"),
    ("shared/inbox.py", "received_at < ?", "received_at <= ?"),
    ("shared/outbox.py", '"sent_at IS NULL AND failed_at IS NULL", []', '"sent_at IS NULL", []'),
    ("shared/outbox.py", "AND created_at < ?", "AND created_at > ?"),
    ("shared/outbox.py", 'ORDER BY seq", params', 'ORDER BY seq DESC", params'),
    ("shared/outbox.py", 'ORDER BY seq", seqs', 'ORDER BY seq DESC", seqs'),
    ("shared/outbox.py", "SET sent_at = ? WHERE seq = ?", "SET sent_at = ? WHERE seq >= ?"),
    ("shared/outbox.py", "sent_at IS NULL AND failed_at IS NULL\"", "sent_at IS NULL OR failed_at IS NULL\""),
    ("shared/outbox.py", "WHERE failed_at IS NOT NULL", "WHERE failed_at IS NULL"),
    ("shared/outbox.py", "sent_at < ?", "sent_at <= ?"),
]


def ensure_mutmut() -> Path:
    mutmut = Path(sys.executable).with_name("mutmut")
    if not mutmut.exists():
        print(f"mutation: installing {MUTMUT} (without its click pin) and {', '.join(MUTMUT_NEEDS)}")
        pip = [sys.executable, "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--no-deps", MUTMUT], check=True)
        subprocess.run([*pip, *MUTMUT_NEEDS], check=True)
    return mutmut


def run(mutmut: Path, patterns: list[str], max_children: int) -> int:
    """mutmut's own output goes to a log; one line of progress every 15 seconds comes here."""
    if not patterns:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # no stale verdicts
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / "mutmut.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(mutmut), "run", "--max-children", str(max_children),
                                    *patterns], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        while True:
            try:
                process.wait(timeout=STATUS_EVERY_SECONDS)
                break
            except subprocess.TimeoutExpired:
                print(f"mutation: [{time.monotonic() - started:4.0f}s] {status(log_path)}",
                      flush=True)
    if process.returncode != 0:
        print(f"mutation: mutmut failed (exit {process.returncode}); the end of {log_path}:",
              file=sys.stderr)
        print(last_lines(log_path, 30), file=sys.stderr)
    return process.returncode


def status(log_path: Path) -> str:
    text = last_lines(log_path, 200)
    found = PROGRESS.findall(text)
    if found:
        done, total, killed, no_tests, timeout, suspicious, survived = map(int, found[-1])
        return (f"{done}/{total} checked: killed {killed}, survived {survived}, "
                f"no tests {no_tests}, timeout {timeout + suspicious}")
    lines = [line.strip(" ⠁⠂⠄⡀⢀⠠⠐⠈⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏") for line in text.splitlines()]
    return next((line[:100] for line in reversed(lines) if line), "starting")


def last_lines(path: Path, count: int) -> str:
    data = path.read_bytes()[-20_000:].decode(errors="replace").replace("\r", "\n")
    return "\n".join(data.splitlines()[-count:])


def results(mutmut: Path) -> dict[str, str]:
    """Every mutant's verdict, by name."""
    listed = subprocess.run([str(mutmut), "results", "--all", "true"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    return {m.group(1): m.group(2) for m in map(RESULT.match, listed.splitlines()) if m}


def diffs(mutmut: Path, names: list[str]) -> dict[str, str]:
    """Each mutant's diff: in this process when mutmut's helpers import, else `mutmut show`."""
    os.chdir(ROOT)
    try:
        from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
    except ImportError:
        find_mutant = get_diff_for_mutant = None
    shown = {}
    for name in names:
        try:
            shown[name] = get_diff_for_mutant(name, path=find_mutant(name).path)
        except Exception:  # the CLI is the fallback for any change inside mutmut
            cli = subprocess.run([str(mutmut), "show", name], capture_output=True, text=True)
            shown[name] = cli.stdout.split("\n", 1)[-1] or cli.stderr
    return shown


def only_sql_letter_case(diff: str) -> bool:
    """True when the mutant changes nothing but the letter case of SQL text without quoted
    values in it: SQLite reads keywords and names in any case, so it is equivalent."""
    lines = diff.splitlines()
    removed = [line[1:] for line in lines if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in lines if line.startswith("+") and not line.startswith("+++")]
    paths = [line[4:].strip() for line in lines if line.startswith("--- ")]
    if (len(removed), len(added), len(paths)) != (1, 1, 1) or removed == added \
            or removed[0].lower() != added[0].lower():
        return False
    source = (ROOT / paths[0]).read_text()
    numbers = {n for n, line in enumerate(source.splitlines(), 1)
               if line.strip() == removed[0].strip()}
    tree = ast.parse(source)
    inside = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
              for part in node.values}
    texts = [_text(node) for node in ast.walk(tree) if id(node) not in inside
             and isinstance(node, ast.Constant | ast.JoinedStr) and _text(node) is not None
             and any(node.lineno <= n <= node.end_lineno for n in numbers)]
    return bool(texts) and all(SQL_TEXT.match(text) and "'" not in text for text in texts)


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value for part in node.values if isinstance(part, ast.Constant))
    return node.value if isinstance(node.value, str) else None


def sql_mutants(max_children: int) -> dict[str, str]:
    """Each SQL change in its own copy of the tree, against the unit tests mutmut runs, but
    the runtime's (they wait seconds of real time and never reach this SQL)."""
    def verdict(mutant: tuple[str, str, str]) -> str:
        path, written, broken = mutant
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "tree"
            shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
                ".venv", ".git", ".run", "mutants", "__pycache__", "*_cache", ".hypothesis",
                "*.db", "*.db-*"))
            source = (copy / path).read_text()
            if source.count(written) != 1:
                return f"not applied: {written!r} is not in {path} exactly once"
            (copy / path).write_text(source.replace(written, broken))
            tests = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly",
                                    "-p", "no:cacheprovider", "tests/unit",
                                    "--ignore=tests/unit/test_runtime.py",
                                    "--ignore=tests/unit/test_order_api_fuzzed.py"],
                                   cwd=copy, capture_output=True, text=True)
            return "killed" if tests.returncode == 1 else f"survived (pytest exit {tests.returncode})"
    with ThreadPoolExecutor(max_children) as pool:
        verdicts = pool.map(verdict, SQL_MUTANTS)
        return {f"{path}: {written} -> {broken}": result
                for (path, written, broken), result in zip(SQL_MUTANTS, verdicts, strict=True)}


def module_of(mutant: str) -> str:
    """``shared.outbox.xǁOutboxǁpending__mutmut_3`` → ``shared.outbox``."""
    return re.split(r"\.x[_ǁ]", mutant, maxsplit=1)[0]


def table(verdicts: dict[str, str]) -> list[str]:
    by_module: dict[str, Counter] = defaultdict(Counter)
    for mutant, verdict in verdicts.items():
        by_module[module_of(mutant)][verdict] += 1
    rows = [f"{'module':28} {'mutants':>7} {'killed':>6} {'survived':>8} {'(SQL case)':>10} "
            f"{'no tests':>8} {'other':>5} {'score':>6}"]
    for name, counts in [*sorted(by_module.items()), ("all", sum(by_module.values(), Counter()))]:
        total, killed, sql_case = sum(counts.values()), counts["killed"], counts[SQL_CASE]
        survived = counts["survived"] + sql_case
        other = total - killed - survived - counts["no tests"]
        rows.append(f"{name:28} {total:7} {killed:6} {survived:8} {sql_case:10} "
                    f"{counts['no tests']:8} {other:5} {score(killed, total):>6}")
    return rows


def score(killed: int, total: int) -> str:
    return f"{100 * killed / total:.1f}%" if total else "-"


def summary(killed: int, survived: int) -> str:
    """``killed=<n> survived=<n> score=<p>%``: the end of every result line."""
    return f"killed={killed} survived={survived} score={score(killed, killed + survived)}"


def module_lines(verdicts: dict[str, str]) -> list[str]:
    """One line per module with mutants checked in this run (a subset run checks only some)."""
    by_module: dict[str, Counter] = defaultdict(Counter)
    for mutant, verdict in verdicts.items():
        if verdict != "not checked":
            by_module[module_of(mutant)][verdict == "killed"] += 1
    return [f"mutation: module={name.replace('.', '/')}.py {summary(counts[True], counts[False])}"
            for name, counts in sorted(by_module.items())]


def write_survivors(verdicts: dict[str, str], shown: dict[str, str],
                    sql: dict[str, str]) -> Path:
    path = OUT / "survivors.txt"
    OUT.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write(f"# {len(shown)} mutmut mutants not killed (`mutmut show <name>` shows one)\n\n")
        for name, diff in shown.items():
            out.write(f"## {name}: {verdicts[name]}\n{diff.rstrip()}\n\n")
        out.write("# SQL changes not killed (devtools/mutation.py SQL_MUTANTS)\n\n")
        out.writelines(f"## {name}: {verdict}\n" for name, verdict in sql.items()
                       if verdict != "killed")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="*", help='mutant names or globs, e.g. "shared.retry*"')
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    mutmut = ensure_mutmut()
    failed = run(mutmut, args.patterns, args.max_children)
    if failed:
        return failed
    verdicts = results(mutmut)
    shown = diffs(mutmut, sorted(name for name, v in verdicts.items() if v != "killed"))
    verdicts.update({name: SQL_CASE for name, diff in shown.items()
                     if verdicts[name] == "survived" and only_sql_letter_case(diff)})
    print("\n".join(table(verdicts)))
    print(f"mutation: {len(SQL_MUTANTS)} changes to SQL text that mutmut cannot make ...")
    sql = sql_mutants(args.max_children)
    for name, verdict in sql.items():
        print(f"  {'killed  ' if verdict == 'killed' else 'SURVIVED'} {name}")
    print(f"sql: killed={sum(v == 'killed' for v in sql.values())} of {len(sql)}")
    print(f"survivors and their diffs: {write_survivors(verdicts, shown, sql).relative_to(ROOT)}"
          "; 'no tests', timeouts and suspicious mutants count as not killed")
    print("\n".join(module_lines(verdicts)))
    killed = sum(verdict == "killed" for verdict in verdicts.values())
    print(f"mutation: {summary(killed, len(verdicts) - killed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
