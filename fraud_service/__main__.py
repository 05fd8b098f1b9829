"""`fraud-service`: run the fraud screening service until SIGTERM or SIGINT."""

from fraud_service.bootstrap import bootstrap
from shared.runtime.service import run_service


def main() -> None:
    run_service("fraud_service", bootstrap)


if __name__ == "__main__":
    main()
