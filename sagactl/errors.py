"""How sagactl fails: one or two lines that say what was tried and what to check, and an
exit status a script can act on. Never a traceback for a failure we can foresee.

=====  =========================================================
 0     all went well
 2     invalid input: nothing was sent
 3     cannot reach the broker, the order API, the monitor or a service
 4     waited, and the order is not final (or `doctor` found a problem)
=====  =========================================================
"""

from __future__ import annotations

EXIT_CODES_HELP = ("Exit status: 0 ok, 2 invalid input (nothing sent), 3 cannot reach the broker "
                   "or an HTTP API, 4 waited and the order is not final / doctor found a problem.")


class CliError(Exception):
    code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CliError):
    code = 2


class Unreachable(CliError):
    code = 3


class NotFinal(CliError):
    code = 4


def fail(message: str) -> InvalidInput:
    """``raise fail("...")``: invalid input, nothing sent."""
    return InvalidInput(message)
