"""Every example agreement validates, builds, builds the same twice, and opens in LibreOffice.

LibreOffice is a program that is not ours: if it renders the clause numbers
and cross-reference numbers the engine computed, the Word file is sound.
In CI (CI set) a missing LibreOffice is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace

import pytest

from assembler.engine import tree
from assembler.build.output import build
from assembler.build.pipeline import assemble_source
from assembler.diagnostics import ValidationFailed
from assembler.source.folder import DirectorySource
from assembler.word.pdf import convert_to_pdf, find_soffice, find_uno_python
from assembler.check.validate import validate_source
from conftest import EXAMPLES, edit

IDS = [p.name for p in EXAMPLES]


def _need_libreoffice():
    if find_soffice() and find_uno_python() and shutil.which("pdftotext"):
        return
    if os.environ.get("CI"):
        pytest.fail("LibreOffice (soffice), python3-uno and pdftotext must be installed in CI; .ci/run installs them")
    pytest.skip("LibreOffice, its Python bridge or pdftotext not installed")


def test_there_are_five_examples():
    assert {p.name for p in EXAMPLES} >= {"portsmouth-framework-2022", "haringey-2016", "southampton-bcf-2017",
                                          "portsmouth-bcf-2017", "portsmouth-ics-2017"}


@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_example_validates_without_errors(example):
    result = validate_source(DirectorySource(str(example)))
    assert result.errors == [], "\n".join(d.format() for d in result.errors)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each example built once as a draft (or final where its status is final)."""
    out = tmp_path_factory.mktemp("built")
    results = {}
    for example in EXAMPLES:
        results[example.name] = build(str(example), out / f"{example.name}.docx")
    return results


@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_build_is_byte_identical_twice(example, built, tmp_path):
    again = build(str(example), tmp_path / "again.docx")
    assert again.output.read_bytes() == built[example.name].output.read_bytes()


def test_a_build_after_an_edit_in_the_same_process_reads_the_edit(base_copy, tmp_path):
    """Loaded files and their shape are kept between builds by content, never by name: an edit is always seen."""
    schedule = base_copy / "schedules" / "lead.yaml"
    before = build(str(base_copy), tmp_path / "a.docx")
    edit(schedule, "title: Carers' Support Services", "title: Young Carers' Support Services")
    after = build(str(base_copy), tmp_path / "a.docx")
    assert [s.title for s in after.document.sections if s.key == "lead"] == ["Young Carers' Support Services"]
    assert [s.title for s in before.document.sections if s.key == "lead"] == ["Carers' Support Services"]
    edit(schedule, "kind: scheme", "kind: 7")
    with pytest.raises(ValidationFailed) as failed:
        build(str(base_copy), tmp_path / "a.docx")
    assert any(d.code == "S75-ENUM" and d.location.file.endswith("lead.yaml") for d in failed.value.diagnostics)


def test_a_schedule_inherits_an_edited_agreement_yaml_in_the_same_process(base_copy):
    """A schedule's defaults are kept by its own bytes and agreement.yaml's: the underspend rule it inherits follows an edit."""
    pool = base_copy / "schedules" / "pool.yaml"
    pool.write_text(pool.read_text(encoding="utf-8") + "underspend:\n  treatment: carry_forward\n", encoding="utf-8")

    def on_expiry() -> str:
        agreement = validate_source(DirectorySource(str(base_copy))).agreement
        return next(s for s in agreement.schedules if s.key == "pool").effective_underspend.on_expiry

    assert on_expiry() == "pro_rata"
    edit(base_copy / "agreement.yaml", "    treatment: return_to_contributor\n",
         "    treatment: return_to_contributor\n    on_expiry: return_to_contributor\n")
    assert on_expiry() == "return_to_contributor"


@pytest.fixture(scope="module")
def pdf_text(built, tmp_path_factory):
    _need_libreoffice()
    outdir = tmp_path_factory.mktemp("pdf")
    pdfs = convert_to_pdf([r.output for r in built.values()], outdir)
    texts = {}
    for name, pdf in zip(built, pdfs):
        texts[name] = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                                     capture_output=True, text=True).stdout
    return texts


def _numbers(document: tree.Document) -> tuple[set[str], set[str]]:
    """Clause numbers (levels 1-2 of the body) and every cross-reference number."""
    clauses, refs = set(), set()
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, tree.Para):
                if section.kind == "body" and block.level in (1, 2):
                    clauses.add(block.full_number)
                refs |= {p.number for p in block.parts if isinstance(p, tree.Ref)}
    return clauses, refs


@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_libreoffice_renders_the_engine_numbers(example, built, pdf_text):
    text = pdf_text[example.name]
    document = built[example.name].document
    clauses, refs = _numbers(document)
    tokens = set(re.findall(r"(?<![\d.])\d+(?:\.\d+)*(?:\([a-z]+\))*", text))
    missing = sorted(n for n in clauses if n not in tokens and f"{n}." not in text)
    assert not missing, f"clause numbers not rendered by LibreOffice: {missing[:10]}"
    missing_refs = sorted(n for n in refs if n not in text)
    assert not missing_refs, f"cross-reference numbers not rendered: {missing_refs[:10]}"
    for bad in ("{{", "{%", "Error!", "Reference source not found"):
        assert bad not in text
    execution = text[text.rfind("executed"):] if "executed" in text else text
    for party in document.parties:
        assert " ".join(party.name.split()) in " ".join(execution.split())


@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_draft_marking_follows_status(example, built, pdf_text):
    status = built[example.name].document.status
    assert ("DRAFT" in pdf_text[example.name]) == (status == "draft")


def test_a_final_agreement_builds_final_and_is_never_overwritten_silently(final_copy, tmp_path):
    example = final_copy
    target = tmp_path / "final.docx"
    build(str(example), target, final=True)
    first = target.read_bytes()
    from assembler.diagnostics import UsageError

    with pytest.raises(UsageError) as caught:
        build(str(example), target, final=True)
    assert caught.value.diagnostics[0].code == "S75-OVERWRITE"
    build(str(example), target, final=True, force=True)
    assert target.read_bytes() == first


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_final_refuses_every_example_draft(example, tmp_path):
    """Each example leaves open what its seed does not give, so none may be built as a signing copy."""
    has_tbc = any(d.code == "S75-TBC" for d in validate_source(DirectorySource(str(example))).diagnostics)
    with pytest.raises(ValidationFailed) as caught:
        build(str(example), tmp_path / "x.docx", final=True)
    codes = {d.code for d in caught.value.diagnostics}
    assert "S75-FINAL" in codes
    assert ("S75-TBC" in codes) == has_tbc
    assert not (tmp_path / "x.docx").exists()


def test_failed_build_leaves_previous_output_untouched(base_copy, tmp_path):
    target = tmp_path / "out.docx"
    build(str(base_copy), target)
    before = target.read_bytes()
    edit(base_copy / "agreement.yaml", "status: draft", "status: drafty")
    with pytest.raises(ValidationFailed):
        build(str(base_copy), target)
    assert target.read_bytes() == before


def test_single_schedule_build_has_only_that_schedule(tmp_path):
    example = next(p for p in EXAMPLES if p.name == "southampton-bcf-2017")
    document = assemble_source(DirectorySource(str(example))).document
    key = next(s.key for s in document.sections if s.kind == "schedule")
    result = build(str(example), tmp_path / "one.docx", schedule=key)
    kinds = [s.kind for s in result.document.sections]
    assert kinds == ["schedule"] and result.document.sections[0].key == key


def test_a_schedule_built_alone_cites_the_agreement_by_number():
    """References out of a schedule built alone give the numbers of the whole agreement, "of the Agreement"."""
    from assembler.engine.text import inline_text

    example = next(p for p in EXAMPLES if p.name == "portsmouth-framework-2022")
    whole = assemble_source(DirectorySource(str(example))).document
    alone = assemble_source(DirectorySource(str(example)), schedule="bcf").document

    def paragraphs(document):
        section = next(s for s in document.sections if s.key == "bcf")
        return [inline_text(b.parts) for b in section.blocks if isinstance(b, tree.Para)]

    in_whole, by_itself = paragraphs(whole), paragraphs(alone)
    assert len(in_whole) == len(by_itself)
    cited = 0
    for there, here in zip(in_whole, by_itself):
        assert "the provisions on" not in here
        expected = re.sub(r"(clause \d+(?:\.\d+)*)", r"\1 of the Agreement", there)
        expected = re.sub(r"(Schedule \d+)(?! to the Agreement)", r"\1 to the Agreement", expected)
        assert here == expected, (there, here)
        cited += len(re.findall(r"clause \d+(?:\.\d+)*", there))
    assert cited >= 5


PORTSMOUTH_2017 = ("portsmouth-bcf-2017", "portsmouth-ics-2017")


def _example(name):
    return next(p for p in EXAMPLES if p.name == name)


def test_portsmouth_2017_is_two_agreements_under_one_group():
    """Seed 002: the BCF and ICS agreements "remain as two separate agreements" with one combined group."""
    import yaml

    schedules = {name: sorted(p.name for p in (_example(name) / "schedules").glob("*.yaml")) for name in PORTSMOUTH_2017}
    assert schedules == {"portsmouth-bcf-2017": ["bcf.yaml"], "portsmouth-ics-2017": ["ics.yaml", "s256.yaml"]}
    data = {name: yaml.safe_load((_example(name) / "agreement.yaml").read_text(encoding="utf-8")) for name in PORTSMOUTH_2017}
    shared = {name: [body.pop("shared_with") for body in data[name]["governance"]["bodies"]] for name in PORTSMOUTH_2017}
    assert data["portsmouth-bcf-2017"]["governance"] == data["portsmouth-ics-2017"]["governance"]
    # each agreement's group names the other agreement as the one it also acts under
    titles = {name: data[name]["title"] for name in PORTSMOUTH_2017}
    assert [s["title"] for s in shared["portsmouth-bcf-2017"]] == [titles["portsmouth-ics-2017"]]
    assert [s["title"] for s in shared["portsmouth-ics-2017"]] == [titles["portsmouth-bcf-2017"]]
    assert [b["key"] for b in data["portsmouth-bcf-2017"]["governance"]["bodies"]] == ["pmg"]


@pytest.mark.parametrize("name", PORTSMOUTH_2017)
def test_portsmouth_2017_recites_what_each_body_decided_and_invents_no_date(name):
    """The Cabinet Member was asked to approve terms of reference (decision not recorded); the CCG's committee approved them."""
    from assembler.engine.text import render_text

    document = assemble_source(DirectorySource(str(_example(name)))).document
    text = " ".join(render_text(document).split())
    # Seed 002 is the report asking for the decision; its decision record is blank.
    assert ("It was proposed that the Cabinet Member for Health and Social Care of Portsmouth City Council decide on "
            "28 June 2017 whether to approve the terms of reference of the combined Better Care and Integrated "
            "Commissioning Service") in text
    assert "the Cabinet Member for Health and Social Care [●: decision taken]" in text
    assert ("On [●: date of the decision] the Clinical Executive Committee of NHS Portsmouth Clinical Commissioning "
            "Group approved the terms of reference") in text
    # no body is said to have approved entry: each Partner's approval of entry is a marked blank to complete
    for party in ("Portsmouth City Council", "NHS Portsmouth Clinical Commissioning Group"):
        assert (f"On [●: date of approval] the [●: approving body] of {party} approved its entry into this "
                "Agreement.") in text
    assert not re.search(r"On \d+ \w+ \d{4} the [^.]*entry into this Agreement", text)
    assert not re.search(r"\d+ \w+ 2016", text.split("SCHEDULE")[0])  # no date in 2016 is invented


def test_portsmouth_terms_of_reference_carry_seed_002s_approval_and_review():
    from assembler.engine.text import render_text

    document = assemble_source(DirectorySource(str(_example("portsmouth-ics-2017")))).document
    text = " ".join(render_text(document).split())
    assert "Partnership Management Group on 30 March 2017 and were approved by the CCG's Clinical Executive" in text
    assert "must review them at least every three years, or earlier if business needs require it" in text


def test_haringey_older_people_leaves_lead_host_and_pool_manager_open_alike():
    """Seed 003 para 6.6.4: the lead is not agreed; para 6.10: the lead is the pool manager. All three are blanks."""
    from assembler.engine.text import render_text

    document = assemble_source(DirectorySource(str(_example("haringey-2016")))).document
    section = next(s for s in document.sections if s.key == "older-people")
    text = " ".join(render_text(replace(document, sections=[section])).split())
    assert "The Lead Commissioner for the Scheme is [●: lead commissioner to be agreed]." in text
    assert "The Host Partner of the Pooled Fund for the Scheme is [●: host partner]." in text
    assert "The Pool Manager is the Host Partner’s [●: post of the Pool Manager]." in text
    assert "the Council. As regulation 7(4)" not in text


def test_an_undecided_lead_gets_an_interim_rule_and_a_named_lead_does_not():
    """Review r6 Haringey 1: lead commissioning from day one with no lead named would operate on nobody.

    Until a Lead Commissioner is recorded each Partner commissions for itself; a named lead needs no such rule.
    """
    from assembler.engine.text import render_text

    document = assemble_source(DirectorySource(str(_example("haringey-2016")))).document
    section = next(s for s in document.sections if s.key == "older-people")
    text = " ".join(render_text(replace(document, sections=[section])).split())
    assert "Until the Partners record the Lead Commissioner by a variation under clause" in text
    assert "each Partner commissions for itself the Services that serve its own Functions" in text
    assert re.search(r"Until a Lead Commissioner is recorded, paragraph 9\.\d+ applies instead", text)
    whole = " ".join(render_text(document).split())  # the other three led schemes name their lead
    assert whole.count("The Lead Commissioner for the Scheme is") == 4
    assert whole.count("Until the Partners record the Lead Commissioner") == 1
    framework = " ".join(render_text(assemble_source(DirectorySource(str(_example("portsmouth-framework-2022")))).document).split())
    assert "The Lead Commissioner for the Scheme is" in framework
    assert "Until the Partners record the Lead Commissioner" not in framework


def test_a_cascade_top_up_needs_each_partners_written_agreement():
    """Review r6 Haringey 5: step (c) must not oblige a Partner to top up an overspend without limit."""
    from assembler.engine.text import render_text

    text = " ".join(render_text(assemble_source(DirectorySource(str(_example("haringey-2016")))).document).split())
    risk = text.split("RISK SHARE, OVERSPENDS AND UNDERSPENDS", 2)[-1].split("CAPITAL EXPENDITURE", 1)[0]
    assert "Each Partner provides that funding only so far as it agrees in writing" in risk
    assert "does not oblige a Partner to increase its Contribution" in risk
    assert "including because a Partner does not agree to provide additional funding" in risk


def test_haringey_monthly_reports_reach_a_governance_body():
    """Review r6 Haringey 2 and seed 003 para 6.20: the group supports the Joint Executive Team; it is not a body."""
    from assembler.engine.text import render_text

    text = " ".join(render_text(assemble_source(DirectorySource(str(_example("haringey-2016")))).document).split())
    assert text.count("each month to the Joint Executive Team, through the Joint Finance and Commissioning Group") == 5
    assert "each month to the Joint Finance and Commissioning Group" not in text
    assert "Group,." not in text and "Group,;" not in text


def test_no_example_or_clause_cites_regulations_that_do_not_exist():
    """There are no "NHS Continuing Healthcare Regulations 2012": the rules are Part 6 of SI 2012/2996."""
    root = EXAMPLES[0].parent.parent
    paths = [*root.glob("clauses/*.clause"), *root.glob("agreements/*/*.yaml"), *root.glob("agreements/*/schedules/*.yaml")]
    assert len(paths) > 20
    cited = [str(p) for p in paths if "Continuing Healthcare Regulations" in p.read_text(encoding="utf-8")]
    assert cited == []


def test_a_scheme_without_a_review_statement_still_builds(tmp_path):
    """An aligned-budget scheme need not state its review (no reg 7(3)(f)); the clause must not need it either.

    Found by scripts/fuzz.py: it validated, then failed to build.
    """
    from assembler.engine.text import render_text

    root = tmp_path / "agreement"
    shutil.copytree(next(p for p in EXAMPLES if p.name == "portsmouth-framework-2022"), root)
    schedule = root / "schedules" / "health-wellbeing.yaml"
    edit(schedule, "duration:\n  review:\n    by: pmg-hwb\n    also_when: [the Health and Wellbeing Strategy is reviewed]\n",
         "duration: {}\n")
    result = build(str(root), tmp_path / "out.docx")
    section = next(s for s in result.document.sections if s.key == "health-wellbeing")
    assert "must review the Scheme at least once in each Financial Year" in " ".join(
        render_text(replace(result.document, sections=[section])).split())


@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_pdf_contents_page_has_page_numbers(example, built, pdf_text):
    """LibreOffice fills in the contents page before export: every entry ends with its page number."""
    text = pdf_text[example.name]
    pages = text.split("\f")
    start = next(i for i, page in enumerate(pages) if re.search(r"^\s*CONTENTS\s*$", page, re.M))
    contents = "\n".join(pages[start:start + 3])
    contents = contents[contents.index("CONTENTS"):]
    entries = re.findall(r"^\s*(\d+)\.\s+(\S.*?)\s*\.{2,}\s*(\d+)\s*$", contents, re.M)
    body = next(s for s in built[example.name].document.sections if s.kind == "body")
    level1 = [b for b in body.blocks if isinstance(b, tree.Para) and b.level == 1]
    assert len(entries) >= len(level1) > 5, (len(entries), len(level1), contents[:800])
    numbers = [int(page) for _, _, page in entries]
    assert numbers == sorted(numbers) and numbers[0] > start and numbers[-1] <= len(pages)
    # the page an entry names is the page its heading is on
    first_number, first_title, first_page = entries[0]
    heading = f"{first_number}. {first_title}".upper()
    assert heading in " ".join(pages[int(first_page) - 1].upper().split()), (heading, first_page)
