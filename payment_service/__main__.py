"""`payment-service`: run the payment service until SIGTERM or SIGINT."""

from payment_service.bootstrap import bootstrap
from shared.runtime.service import run_service


def main() -> None:
    run_service("payment_service", bootstrap)


if __name__ == "__main__":
    main()
