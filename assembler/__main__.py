"""The ``s75`` console script and ``python -m assembler``.

Loading the commands takes a few hundred milliseconds; Ctrl-C in that time
would otherwise print a traceback from whichever import it interrupted. So
before anything else is imported, SIGINT exits quietly; ``main`` then sets
the handlers a running command uses.
"""

import signal
import sys


def _quit(signum, _frame) -> None:
    raise SystemExit(128 + signum)


_exits_held: list = []  # exit codes of a Ctrl-C that landed where Python cannot raise it
_print_unraisable = sys.unraisablehook


def _hold_exit(unraisable) -> None:
    """A Ctrl-C that lands in a callback Python cannot raise from (importlib's module-lock weakref callback,
    seen under load) is printed as "Exception ignored ... Traceback" and then lost: keep it to exit after."""
    if isinstance(unraisable.exc_value, SystemExit):
        _exits_held.append(unraisable.exc_value.code)
    else:
        _print_unraisable(unraisable)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _quit)
sys.unraisablehook = _hold_exit

try:
    from assembler.cli import main  # noqa: E402 - after the handler above, on purpose
except RuntimeError as error:
    # Python 3.11 wraps an exception raised while a class is being made (in a field's __set_name__) in a
    # RuntimeError, so a Ctrl-C that lands there arrives as one: exit quietly all the same.
    if isinstance(error.__cause__, SystemExit):
        raise SystemExit(error.__cause__.code) from None
    raise
finally:
    sys.unraisablehook = _print_unraisable
if _exits_held:
    raise SystemExit(_exits_held[0])


def run() -> None:
    main()


if __name__ == "__main__":
    run()
