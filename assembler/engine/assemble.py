"""From a validated agreement to a numbered, cross-referenced document tree.

The pipeline: plan and render every section (``render``), fill in the
definitions from the clauses actually selected, number (``number``),
resolve references (``xref``), and lint defined terms. All problems are
collected and raised together as one BuildError.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from assembler.engine import tree
from assembler.engine.library import Library, ValueSlots, default_library
from assembler.diagnostics import ERROR, WARNING, BuildError, Diagnostic, Location
from assembler.model import Record, format_date
from assembler.engine.number import number_document
from assembler.engine.render import Renderer, applies, body_conditions, schedule_conditions
from assembler.engine.xref import resolve_references, targets

SUBTITLE = "Partnership agreement under section 75 of the National Health Service Act 2006"


def assemble(agreement: Record, library: Library | None = None,
             only_schedule: str = "") -> tuple[tree.Document, list[Diagnostic]]:
    """The whole agreement (or one schedule) as a tree, plus warnings.

    Raises BuildError if any clause cannot be rendered or any reference or
    defined term is broken.
    """
    return resolve_document(render_document(agreement, library, only_schedule))


@dataclass
class Rendered:
    """A planned and rendered document, not yet numbered or cross-referenced."""

    document: tree.Document
    renderer: Renderer
    used: set[str]
    only_schedule: str
    whole: list[tree.Section] | None = None  # the whole agreement, when one schedule is built alone


def render_document(agreement: Record, library: Library | None = None, only_schedule: str = "") -> Rendered:
    """Plan and render: choose the clauses, render them and fill in the definitions."""
    library = library or default_library()
    renderer = Renderer(library, agreement)
    sections = []
    whole = None
    if not only_schedule:
        sections.append(_recitals(renderer))
        sections.append(_body(renderer))
    schedules = _schedules(renderer)
    if only_schedule:
        # The rest of the agreement is rendered too (its own renderer: its problems are the full
        # build's to report), so that references out of the schedule can give their numbers.
        others = Renderer(library, agreement)
        whole = [_recitals(others), _body(others), *schedules]
        schedules = [s for s in schedules if s.key == only_schedule]
    sections += schedules
    if not only_schedule:
        sections.append(_execution(renderer))

    # The renderer saw every schedule; a schedule built alone uses only the terms of its own section.
    used = _terms_used(sections) if only_schedule else set(renderer.terms_used)
    used = _fill_definitions(renderer, sections, used)

    document = tree.Document(
        title=agreement.title, subtitle=SUBTITLE, version=agreement.version, status=agreement.status,
        date=format_date(agreement.agreement_date) if "agreement_date" in agreement else "",
        parties=[tree.PartyLine(party_title(p), p.address, p.short_name) for p in agreement.parties],
        sections=sections, subject="Section 75 partnership agreement",
        keywords=", ".join(p.name for p in agreement.parties),
        iso_date=agreement.get("agreement_date", agreement.commencement),
    )
    return Rendered(document, renderer, used, only_schedule, whole)


def party_title(party: Record) -> str:
    """A party as the front page names it: a successor says whom it succeeded."""
    return f"{party.name} (as successor to {party.succeeds.name})" if "succeeds" in party else party.name


def resolve_document(rendered: Rendered) -> tuple[tree.Document, list[Diagnostic]]:
    """Number and cross-reference a rendered document (in place) and lint its defined terms.

    Raises BuildError with every problem found in rendering and here.
    """
    document, renderer, used, only_schedule = (rendered.document, rendered.renderer, rendered.used,
                                               rendered.only_schedule)
    number_document(document)
    outside = None
    if rendered.whole is not None:
        whole = replace(document, sections=rendered.whole)
        number_document(whole)
        outside = targets(whole)
    problems = renderer.problems + resolve_references(document, outside=outside, failed=renderer.failed)
    warnings = []
    if not only_schedule:
        problems += _undefined_terms(renderer, used, renderer.library)
        warnings += _unused_terms(renderer, used)
    if any(p.level == ERROR for p in problems):
        raise BuildError(problems)
    return document, warnings


def _framework_section(renderer: Renderer, keys, kind: str, title: str) -> tree.Section:
    """Recitals or the operative clauses: the outline's clauses that apply, in order.

    Recitals are lettered paragraphs with no clause heading of their own.
    """
    blocks = []
    held = body_conditions(renderer.agreement)
    for key in keys:
        clause = renderer.library.clauses[key]
        if applies(clause, held):
            blocks += renderer.clause_blocks(clause, {"agreement": renderer.agreement}, "",
                                             level_one=kind != "recitals")
    return tree.Section(kind, title, blocks, key=kind)


def _recitals(renderer: Renderer) -> tree.Section:
    return _framework_section(renderer, renderer.library.outline.recitals, "recitals", "Background")


def _body(renderer: Renderer) -> tree.Section:
    return _framework_section(renderer, renderer.library.outline.body, "body", "Agreed terms")


def _schedules(renderer: Renderer) -> list[tree.Section]:
    agreement = renderer.agreement
    library = renderer.library
    sections = []
    for schedule in agreement.schedules:
        held = schedule_conditions(schedule)
        context = {"agreement": agreement, "schedule": schedule}
        blocks = []
        for key in library.outline.schedules.get(schedule.kind, ()):
            clause = library.clauses[key]
            if applies(clause, held):
                blocks += renderer.clause_blocks(clause, context, f"{schedule.key}/")
        sections.append(tree.Section("schedule", schedule.title, blocks, key=schedule.key,
                                     subtitle=_schedule_subtitle(schedule)))
    held = body_conditions(agreement)
    for generated in library.outline.generated:
        if generated.each:
            sections.append(_combined_schedule(generated, agreement, library, renderer, held))
            continue
        items = agreement.governance.bodies if generated.for_each == "governance_body" else [None]
        for body in items:
            context = {"agreement": agreement}
            key = f"generated-{generated.parts[0]}"
            if body is not None:
                context["body"] = body
                key = f"terms-of-reference-{body.key}"
            blocks = []
            for part in generated.parts:
                clause = library.clauses[part]
                if applies(clause, held):
                    blocks += renderer.clause_blocks(clause, context, f"{key}/")
            if blocks:
                title = _plain_title(renderer, generated.title, context)
                sections.append(tree.Section("schedule", title, blocks, key=key))
    for number, section in enumerate(sections, start=1):
        section.number = str(number)
    return sections


def _combined_schedule(generated, agreement: Record, library: Library, renderer: Renderer, held) -> tree.Section:
    """One schedule: its parts once, then its ``each`` parts for every governance body, headed by the body's name."""
    key = generated.key or f"generated-{generated.parts[0]}"
    context = {"agreement": agreement}
    blocks = []
    for part in generated.parts:
        if applies(library.clauses[part], held):
            blocks += renderer.clause_blocks(library.clauses[part], context, f"{key}/")
    for body in agreement.governance.bodies:
        body_context = {"agreement": agreement, "body": body}
        for part in generated.each:
            clause = library.clauses[part]
            if applies(clause, held):
                heading = _plain_title(renderer, clause.heading, body_context)
                blocks += renderer.clause_blocks(clause, body_context, f"{key}/{body.key}/", heading=heading)
    return tree.Section("schedule", _plain_title(renderer, generated.title, context), blocks, key=key)


def _schedule_subtitle(schedule: Record) -> str:
    labels = {"scheme": "Scheme Specification", "s256": "Payments under section 256 of the NHS Act 2006",
              "financial_governance": "Financial governance"}
    return labels[schedule.kind]


def _plain_title(renderer: Renderer, source: str, context: dict) -> str:
    slots = ValueSlots()
    text = renderer.library.templates.render(source, context, slots, renderer.parties)
    return "".join(p.text for p in renderer.inline(text, slots) if isinstance(p, tree.Text))


def _execution(renderer: Renderer) -> tree.Section:
    """The execution page: its clauses once, then each party's attestation and signature lines."""
    agreement, library = renderer.agreement, renderer.library
    blocks: list[tree.Block] = []
    for key in library.outline.execution:
        blocks += renderer.clause_blocks(library.clauses[key], {"agreement": agreement}, "", level_one=False)
    for party in agreement.parties:
        for key in library.outline.execution_party:
            blocks += renderer.clause_blocks(library.clauses[key], {"agreement": agreement, "party": party},
                                             f"execution-{party.key}/", level_one=False)
    return tree.Section("execution", "Execution", blocks, key="execution")


# --- defined terms ---------------------------------------------------------------


def _terms_used(sections) -> set[str]:
    """Every defined term the paragraphs of ``sections`` use (plain loops: a generator per section was slower).

    A whole build has them from its renderer, which gathers them as it makes the parts.
    """
    used = set()
    for section in sections:
        for block in section.blocks:
            if isinstance(block, tree.Para):
                for part in block.parts:
                    if isinstance(part, tree.TermUse):
                        used.add(part.term)
    return used


def _fill_definitions(renderer: Renderer, sections, used: set[str]) -> set[str]:
    """Replace the ::definitions placeholder with the terms of the selected clauses.

    Returns the terms the document uses now: ``used`` and those the definitions use.
    """
    for section in sections:
        for i, block in enumerate(section.blocks):
            if isinstance(block, tree.Para) and block.style == "DefinitionsPlaceholder":
                # Definitions may use further terms: repeat until no new term appears.
                wanted = set(used)
                while True:
                    more = set(wanted)
                    paras = renderer.definitions(wanted, more)
                    if more == wanted:
                        break
                    wanted = more
                section.blocks[i:i + 1] = paras
                return wanted
    return used


def _undefined_terms(renderer: Renderer, used: set[str], library: Library) -> list[Diagnostic]:
    problems = []
    for term in sorted(used - set(renderer.defined)):
        where = next((c.location() for c in library.clauses.values()
                      if f"[[{term}]]" in c.body or f"[[{term}|" in c.body), Location(str(library.folder), 1, 1))
        problems.append(Diagnostic(where, ERROR, "S75-TERM", f"the defined term '{term}' is used but never defined",
                                   "define it in the defines: of the clause that introduces it"))
    return problems


def _unused_terms(renderer: Renderer, used: set[str]) -> list[Diagnostic]:
    return [Diagnostic(clause.location(), WARNING, "S75-TERM-UNUSED",
                       f"the term '{term}' is defined but not used in this agreement", "")
            for term, (clause, _) in sorted(renderer.defined.items()) if term not in used]
