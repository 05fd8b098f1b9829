"""`orchestrator-service`: run the saga orchestrator until SIGTERM or SIGINT."""

from orchestrator_service.bootstrap import bootstrap
from shared.runtime.service import run_service


def main() -> None:
    run_service("orchestrator_service", bootstrap)


if __name__ == "__main__":
    main()
