"""Load, check shape, check rules and requirements: every finding of every file.

The one entry point the CLI, the builder and the tests use to turn an
agreement directory into a model plus its diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass

from assembler.recent import Recent
from assembler.diagnostics import ERROR, WARNING, Diagnostic, sorted_diagnostics
from assembler.source.folder import AgreementFiles, load_agreement
from assembler.source.yamlfile import YamlFile
from assembler.model import Record, build_agreement, with_defaults
from assembler.check.requirements import requirement_findings
from assembler.check.rules import Context, run_rules
from assembler.check.schema import _resolve, load_schema, shape
from assembler.check import blanks, consistency  # noqa: F401  (their rules join the registry on import)
from assembler.check.prose import prose_findings


@dataclass(frozen=True)
class Validation:
    """The outcome of validating one agreement."""

    files: AgreementFiles | None
    diagnostics: tuple[Diagnostic, ...]
    agreement: Record | None = None  # only when there are no errors

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_source(source, defined_terms: frozenset[str] = frozenset()) -> Validation:
    """Validate an agreement read from a source (a directory, or git objects)."""
    files, findings = load_agreement(source)
    return validate_files(files, findings, defined_terms)


def validate_files(files: AgreementFiles | None, findings, defined_terms: frozenset[str] = frozenset()) -> Validation:
    """Check loaded files (shape, rules, requirements) and build the model if clean.

    ``findings`` are the loader's diagnostics for these files. With the clause
    library's ``defined_terms`` the free text is checked against them too.
    """
    findings = list(findings)
    if files is None or files.framework is None:
        return Validation(files, tuple(sorted_diagnostics(findings)))

    framework = shape(files.framework, "framework")
    findings += framework.findings
    schedules = [shape(doc, "schedule") for doc in files.schedules]
    for result in schedules:
        findings += result.findings

    if framework.usable is not None:
        usable = tuple(r.usable for r in schedules if r.usable is not None)
        stand_ins = {r.usable.source.locate(path) for r in (framework, *schedules) if r.usable is not None
                     for path in r.stand_ins}
        context = Context(framework.usable, usable)
        later = run_rules(context) + requirement_findings(framework.usable, usable)
        if defined_terms:
            later += prose_findings(context, defined_terms)
        # A value read as tbc in place of a bad amount: the shape finding there says it all.
        findings += [d for d in later if d.location not in stand_ins]

    findings = sorted_diagnostics(findings)
    agreement = None
    if not any(d.level == ERROR for d in findings):
        agreement = build_model(files)
    return Validation(files, tuple(findings), agreement)


def build_model(files: AgreementFiles) -> Record:
    framework = _defaulted(files.framework, (), lambda: with_defaults(files.framework.data, load_schema("framework"),
                                                                      _resolve))
    schedules = [_defaulted(doc, (files.framework.digest,), lambda doc=doc: with_defaults(
                     _inherit_on_expiry(doc.data, framework), load_schema("schedule"), _resolve))
                 for doc in files.schedules]
    return build_agreement(framework, schedules)


_DEFAULTED = Recent(256)  # files' data with the schema's defaults filled in (see Recent); shared, so never changed


def _defaulted(doc: YamlFile, depends_on: tuple, fill):
    """``fill()`` for ``doc``, once for the same bytes (a schedule's also depends on agreement.yaml's bytes)."""
    if not doc.digest or not all(depends_on):
        return fill()
    return _DEFAULTED.get((doc.digest, doc.display, *depends_on), fill)


def _inherit_on_expiry(schedule: dict, framework: dict) -> dict:
    """A scheme's own underspend rule keeps the framework's rule on expiry unless it states one.

    Without this the schema's default (pro_rata) would quietly replace the
    framework's choice for any scheme that only changes the yearly treatment.
    """
    override = schedule.get("underspend")
    if isinstance(override, dict) and "on_expiry" not in override:
        expiry = framework["finance"]["underspend"]["on_expiry"]
        return {**schedule, "underspend": {**override, "on_expiry": expiry}}
    return schedule

