"""`order-service`: run the order service until SIGTERM or SIGINT."""

from order_service.bootstrap import bootstrap
from shared.runtime.service import run_service


def main() -> None:
    run_service("order_service", bootstrap)


if __name__ == "__main__":
    main()
