"""`python3 -m devtools.wait_http URL [SECONDS] [COMPOSE_PROJECT]` (stdlib only).

Waits until URL answers 200 and, given a compose project, until every running container of
that project reports healthy. Exits 1 with a hint when time runs out.
"""

import subprocess
import sys
import time
import urllib.error
import urllib.request


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def unhealthy(project: str) -> list[str]:
    listed = subprocess.run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={project}",
         "--format", "{{.Names}} {{.Status}}"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in listed.splitlines() if "(healthy)" not in line]


def main(url: str, seconds: float = 180.0, project: str | None = None) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(url) and not (project and unhealthy(project)):
            return 0
        time.sleep(1)
    waiting = ", ".join(unhealthy(project)) if project else url
    print(f"not healthy within {seconds:.0f}s: {waiting}; see `make logs`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[0], float(args[1]) if len(args) > 1 else 180.0,
                  args[2] if len(args) > 2 else None))
