"""Whether a broker's JVM still runs: a stopped child of a process that has exited lingers as
a zombie until init reaps it, so /proc/<pid> alone says nothing."""

from pathlib import Path


def jvm_alive(pid: int) -> bool:
    try:  # the process may go between any two looks at /proc
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
