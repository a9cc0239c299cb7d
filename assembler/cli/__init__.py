"""The ``s75`` command: the only package that prints or exits.

One module per command group (agreement, review, provenance), each
defining plain click commands; this module makes the group and adds them,
so no command module imports another. Exit codes: 0 clean (warnings allowed
in a draft), 1 findings that fail, 2 usage errors. Every failure a user can
cause is printed as ``file:line:col: level [CODE] message (hint: ...)``.
With ``S75_DEBUG=1`` or ``s75 --debug`` a failure's traceback is printed
too (on stderr), for whoever is fixing s75 rather than an agreement.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback

import click

from assembler import __version__
from assembler.cli import agreement, library, new, provenance, review
from assembler.cli.common import fail
from assembler.diagnostics import S75Error


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) arrived: unwind like Ctrl-C, so every temporary file is removed on the way out."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, _frame) -> None:
    raise Terminated(signum)


def main() -> None:
    """Entry point: run the command group; turn any failure into clean lines, never a traceback.

    Ctrl-C and SIGTERM unwind the command (so temporary files are removed)
    and exit with 128 + the signal's number, printing one line.
    """
    handlers = {signal.SIGINT: signal.default_int_handler}
    handlers.update({getattr(signal, name): _terminate for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)})
    if threading.current_thread() is not threading.main_thread():
        handlers = {}  # only the main thread may set handlers (an embedding program's business, then)
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        _run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Debug:
    """Whether this run shows tracebacks: S75_DEBUG=1 in the environment or --debug on the command line."""

    flag = False

    @classmethod
    def on(cls) -> bool:
        return cls.flag or os.environ.get("S75_DEBUG", "") not in ("", "0")


def _set_debug(_ctx, _param, value: bool) -> None:
    _Debug.flag = value


def _traceback(exc: BaseException) -> None:
    if _Debug.on():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def _run() -> None:
    _Debug.flag = False
    try:
        cli.main(prog_name="s75", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("s75: interrupted", err=True)
        sys.exit(128 + signal.SIGINT)
    except Terminated as exc:
        click.echo(f"s75: stopped by {signal.Signals(exc.signum).name}", err=True)
        sys.exit(128 + exc.signum)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except S75Error as exc:
        _traceback(exc)
        fail(exc)
    except RecursionError as exc:
        _traceback(exc)
        click.echo("<input>:1:1: error [S75-INTERNAL] the input is nested too deeply to process "
                   "(hint: flatten the YAML structure)")
        sys.exit(1)
    except Exception as exc:  # a bug: say so plainly, in one line; the traceback only when debugging
        _traceback(exc)
        click.echo(f"<s75>:1:1: error [S75-INTERNAL] unexpected {type(exc).__name__}: {' '.join(str(exc).split())} "
                   "(hint: this is a bug in s75; run again with --debug for the traceback and report it with the input)")
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="s75")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
              help="On a failure, also print the traceback (as S75_DEBUG=1 does).")
def cli() -> None:
    """Assemble section 75 partnership agreements from YAML into Word.

    Write an agreement as agreement.yaml plus schedules/*.yaml, check it with
    `s75 validate`, and build the document with `s75 build`.
    """




for command in (agreement.validate, agreement.schema, agreement.build, agreement.text, agreement.compliance,
                provenance.verify, review.textconv, review.diff_command, review.redline, review.variation,
                review.validate_changed, new.new, library.library):
    cli.add_command(command)
