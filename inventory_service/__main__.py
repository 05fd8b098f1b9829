"""`inventory-service`: run the inventory service until SIGTERM or SIGINT."""

from inventory_service.bootstrap import bootstrap
from shared.runtime.service import run_service


def main() -> None:
    run_service("inventory_service", bootstrap)


if __name__ == "__main__":
    main()
