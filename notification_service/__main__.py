"""`notification-service`: run the notification service until SIGTERM or SIGINT."""

from notification_service.bootstrap import bootstrap
from shared.runtime.service import run_service


def main() -> None:
    run_service("notification_service", bootstrap)


if __name__ == "__main__":
    main()
