"""`shipping-service`: run the shipping service until SIGTERM or SIGINT."""

from shared.runtime.service import run_service
from shipping_service.bootstrap import bootstrap


def main() -> None:
    run_service("shipping_service", bootstrap)


if __name__ == "__main__":
    main()
