"""`s75 new agreement` and `s75 new schedule`: start from the fields to decide, not from an example."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import click

from assembler.check.scaffold import ARRANGEMENTS, agreement_yaml, default_commencement, schedule_yaml
from assembler.diagnostics import ERROR, Diagnostic, Location, S75Error, UsageError
from assembler.resources import schemas_dir
from assembler.source.folder import load_yaml_file

_KEY = re.compile(r"^[a-z][a-z0-9_-]*$")


@click.group("new")
def new() -> None:
    """Start a new agreement, or add a schedule to one, with every field to decide.

    Each field is written with its help as a comment and tbc (or the usual
    choice) as its value; what is written validates as a draft, with a
    warning for each tbc, and builds.
    """


def _usage(path, message: str, hint: str) -> UsageError:
    return UsageError(Diagnostic(Location(str(path)), ERROR, "S75-USAGE", message, hint))


def _schema_dir(target: Path) -> str:
    """The schemas folder as seen from ``target``'s folder, for the editor's modeline."""
    return Path(os.path.relpath(schemas_dir(), target.parent.resolve())).as_posix()


def _write(target: Path, text: str) -> None:
    """Write a new file; never replace one (it may hold a commissioner's work)."""
    if target.exists():
        raise _usage(target, f"{target} already exists", "choose another name, or edit the file you have")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "x", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    click.echo(f"wrote {target}")


@new.command("agreement")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--commencement", metavar="YYYY-MM-DD",
              help="The date the arrangements start (default: the next 1 April).")
def new_agreement(directory: Path, commencement: str | None) -> None:
    """Write DIRECTORY/agreement.yaml for a new agreement."""
    try:
        start = dt.date.fromisoformat(commencement) if commencement else default_commencement(dt.date.today())
    except ValueError:
        raise _usage(directory, f"--commencement {commencement!r} is not a date", "write it as YYYY-MM-DD")
    target = directory / "agreement.yaml"
    _write(target, agreement_yaml(start, _schema_dir(target)))
    (directory / "schedules").mkdir(exist_ok=True)
    click.echo(f"next: s75 new schedule {directory} KEY --arrangement pooled_fund, then s75 validate {directory}")


@new.command("schedule")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("key")
@click.option("--arrangement", type=click.Choice(ARRANGEMENTS),
              help="The statutory arrangement the scheme uses (not with --s256).")
@click.option("--bcf", is_flag=True, help="A Better Care Fund scheme (a pooled fund).")
@click.option("--s256", is_flag=True, help="A section 256 payment schedule instead of a scheme.")
def new_schedule(directory: Path, key: str, arrangement: str | None, bcf: bool, s256: bool) -> None:
    """Write DIRECTORY/schedules/KEY.yaml: a scheme using --arrangement, or an s256 payment."""
    if not _KEY.match(key):
        raise _usage(key, f"{key!r} cannot be a schedule key",
                     "use a short lower-case key such as bcf or mental-health: letters, digits, - and _")
    if s256 == bool(arrangement):
        raise _usage(key, "say either --arrangement (a scheme) or --s256 (a payment schedule)",
                     "e.g. --arrangement pooled_fund")
    if bcf and arrangement != "pooled_fund":
        raise _usage(key, "a Better Care Fund scheme must be a pooled fund (s223GA NHS Act 2006)",
                     "use --arrangement pooled_fund with --bcf")
    framework, problems = load_yaml_file(directory / "agreement.yaml")
    if framework is None:
        raise S75Error(problems)
    if not isinstance(framework.data, dict) or "commencement" not in framework.data:
        raise _usage(framework.display, "agreement.yaml has no commencement date",
                     "add commencement: first, or start with s75 new agreement")
    target = directory / "schedules" / f"{key}.yaml"
    _write(target, schedule_yaml(framework.data, key, arrangement, bcf, s256, _schema_dir(target)))
