"""`make mutation-fresh`: each mutant of the given files against a fresh `pytest tests/unit`.

mutmut (`make mutation`) runs its mutants inside long-lived test processes; this is the
plainer measurement. For each mutant (devtools/mutants.py) the file is rewritten, a new
``pytest -x -q`` process runs tests/unit (the test files that import the module first, so
that a caught mutant stops within seconds), and the original is written back: always, also on
Ctrl-C or SIGTERM. The original is kept in .run/mutation/fresh/ while a mutant is on disk, so
that a run killed outright is undone by the next one. First the unit tests run once
unchanged: they must pass, and their time sets the timeout of each mutant (three times it,
at least 60 s). A mutant is killed when pytest fails (exit 1) or cannot collect the tests
(exit 2); a timeout or another exit counts as not killed. One line per mutant, then::

    mutation-fresh: module=shared/outbox.py killed=<n> survived=<n> score=<p>%
    mutation-fresh: killed=<n> survived=<n> score=<p>%

and each mutant not killed with its diff in .run/mutation/fresh-survivors.txt. The exit
status is 0 whatever the score (a report, not a gate): 2 for bad input or failing tests.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from devtools.mutants import Mutant, mutants_of
from devtools.mutation import ROOT, summary

OUT = ROOT / ".run" / "mutation"
KEPT = OUT / "fresh"  # the originals, while a mutant of them is on disk
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="Python files, e.g. shared/outbox.py")
    parser.add_argument("--timeout", type=float, help="seconds per mutant (default: 3 × a clean run)")
    parser.add_argument("--tests", nargs="+", metavar="TEST_FILE",
                        help="run these test files instead of tests/unit (e.g. the outbox's "
                             "tests on PostgreSQL, tests/integration/test_outbox_postgres.py)")
    args = parser.parse_args(argv)
    files = [Path(name).resolve() for name in args.files]
    wrong = [name for name, path in zip(args.files, files, strict=True)
             if not path.is_file() or not path.is_relative_to(ROOT) or path.suffix != ".py"]
    if wrong:
        print(f"mutation-fresh: not a Python file of this project: {', '.join(wrong)}",
              file=sys.stderr)
        return 2
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, _interrupt)  # unwinds like Ctrl-C, so the file goes back
    put_back_leftovers()
    try:
        return run([str(path.relative_to(ROOT)) for path in files], args.timeout, args.tests)
    except SyntaxError as error:
        print(f"mutation-fresh: {error.filename}:{error.lineno} is not valid Python: {error.msg}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmutation-fresh: interrupted; every file is back as it was", file=sys.stderr)
        return 130


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def run(files: list[str], timeout: float | None, tests: list[str] | None = None) -> int:
    mutants = [mutant for name in files for mutant in mutants_of(name)]
    print(f"mutation-fresh: {len(mutants)} mutants of {', '.join(files)}; "
          "the unit tests once without any ...", flush=True)
    started = time.monotonic()
    chosen = (lambda path: tests) if tests else tests_first
    clean = run_tests(chosen(files[0]), timeout=None)
    if clean != "survived":
        print(f"mutation-fresh: the unit tests fail without any mutant ({clean}): fix them first",
              file=sys.stderr)
        return 2
    timeout = timeout or max(60.0, 3 * (time.monotonic() - started))
    verdicts = [check(mutant, timeout, n, len(mutants), started, chosen)
                for n, mutant in enumerate(mutants, 1)]
    report(mutants, verdicts, time.monotonic() - started)
    return 0


def check(mutant: Mutant, timeout: float, n: int, total: int, started: float,
          chosen=None) -> str:
    original = Path(mutant.path).read_bytes()
    (KEPT / mutant.path).parent.mkdir(parents=True, exist_ok=True)
    (KEPT / mutant.path).write_bytes(original)
    try:
        write(mutant.path, mutant.source.encode())
        verdict = run_tests((chosen or tests_first)(mutant.path), timeout)
    finally:
        write(mutant.path, original)
        (KEPT / mutant.path).unlink()
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(f"  [{n}/{total} {minutes}m{seconds:02}s] {verdict:8} "
          f"{mutant.path}:{mutant.line} {mutant.change}", flush=True)
    return verdict


def write(path: str, data: bytes) -> None:
    """Write the file and drop its cached bytecode, which a same-size mutant written in the
    same second as the cache could otherwise be mistaken for."""
    Path(path).write_bytes(data)
    Path(importlib.util.cache_from_source(path)).unlink(missing_ok=True)


def put_back_leftovers() -> None:
    for kept in sorted(KEPT.rglob("*.py")) if KEPT.exists() else []:
        path = kept.relative_to(KEPT)
        if path.read_bytes() != kept.read_bytes():
            print(f"mutation-fresh: {path} was left mutated by a run that was killed: put back")
            write(str(path), kept.read_bytes())
        kept.unlink()


def tests_first(path: str) -> list[str]:
    """Every unit test file, those that import the module first (named one by one: pytest,
    given a file and its folder, would keep the folder's order)."""
    module = path.removesuffix(".py").replace("/", ".")
    files = sorted(Path("tests/unit").glob("test_*.py"))
    return [str(test) for test in sorted(files, key=lambda test: module not in test.read_text())]


def run_tests(tests: list[str], timeout: float | None) -> str:
    """The verdict of a fresh pytest process, in a session of its own so that a timeout stops
    whatever it started."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.Popen([*PYTEST, *tests], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return {0: "survived", 1: "killed", 2: "killed"}.get(code, f"exit {code}")


def report(mutants: list[Mutant], verdicts: list[str], seconds: float) -> None:
    kept = [(m, v) for m, v in zip(mutants, verdicts, strict=True) if v != "killed"]
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "fresh-survivors.txt").open("w") as out:
        out.write(f"# {len(kept)} mutants not killed by a fresh `pytest tests/unit`\n\n")
        for mutant, verdict in kept:
            out.write(f"## {mutant.path}:{mutant.line} {mutant.change}: {verdict}\n")
            out.writelines(difflib.unified_diff(
                Path(mutant.path).read_text().splitlines(keepends=True),
                mutant.source.splitlines(keepends=True), mutant.path, mutant.path, n=1))
            out.write("\n")
    for mutant, verdict in kept:
        print(f"  not killed ({verdict}): {mutant.path}:{mutant.line} {mutant.change}")
    print(f"mutation-fresh: {seconds / 60:.1f} min; diffs of the mutants not killed in "
          f"{(OUT / 'fresh-survivors.txt').relative_to(ROOT)}")
    counts: dict[str, Counter] = {}
    for mutant, verdict in zip(mutants, verdicts, strict=True):
        counts.setdefault(mutant.path, Counter())[verdict == "killed"] += 1
    for path, count in counts.items():
        print(f"mutation-fresh: module={path} {summary(count[True], count[False])}")
    killed = verdicts.count("killed")
    print(f"mutation-fresh: {summary(killed, len(verdicts) - killed)}")


if __name__ == "__main__":
    sys.exit(main())
