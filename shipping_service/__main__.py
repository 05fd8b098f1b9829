"""`shipping-service`: run the shipping service until SIGTERM or SIGINT."""

from shipping_service.bootstrap import bootstrap
from shared.runtime.service import run_service


def main() -> None:
    run_service("shipping_service", bootstrap)


if __name__ == "__main__":
    main()
