"""Recitals say what each body actually decided, and leave a marked blank where an NHS approval is not recorded."""

from __future__ import annotations

import re

import pytest

from assembler.build.pipeline import assemble_source
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource

from conftest import edit

CABINET = """  - party: council
    body: Cabinet
    date: 2017-03-14
"""


def recitals(root) -> str:
    text = render_text(assemble_source(DirectorySource(str(root))).document)
    start, end = text.index("(A)"), text.index("AGREED TERMS") if "AGREED TERMS" in text else None
    return " ".join(text[start:end].split())


@pytest.mark.parametrize("decision, words", [
    ("approved", "approved the Council’s entry into this Agreement."),
    ("approved_in_principle", "approved in principle the Council’s entry into this Agreement."),
    ("endorsed", "endorsed the Council’s entry into this Agreement."),
    ("noted", "noted the Council’s entry into this Agreement."),
])
def test_each_decision_is_recited_in_its_own_form(base_copy, decision, words):
    edit(base_copy / "agreement.yaml", CABINET, CABINET + f"    decision: {decision}\n")
    assert f"On 14 March 2017 the Cabinet of " in recitals(base_copy)
    assert re.search(r"the Cabinet of [^()]+? " + re.escape(words), recitals(base_copy))


def test_a_subject_replaces_entry_into_the_agreement(base_copy):
    edit(base_copy / "agreement.yaml", CABINET,
         CABINET + "    decision: endorsed\n    subject: the proposed form of this Agreement\n")
    text = recitals(base_copy)
    assert "endorsed the proposed form of this Agreement." in text
    assert "endorsed the Council’s entry" not in text


def test_authorised_officers_are_listed_with_what_each_may_do(base_copy):
    edit(base_copy / "agreement.yaml", CABINET, CABINET + """    authorised:
      - officer: Chief Executive
        to: settle_and_complete
      - officer: Director of Adult Services
        consulting: [the section 151 officer]
        to: sign_off_schedules
""")
    text = recitals(base_copy)
    assert ("approved the Council’s entry into this Agreement and authorised its Chief Executive to agree final "
            "amendments to this Agreement and to complete it, and its Director of Adult Services, after consulting "
            "the section 151 officer, to complete and sign off each Schedule.") in text
    assert "  " not in text and " ," not in text and " ." not in text


def test_an_nhs_party_without_a_recorded_approval_gets_a_marked_blank(base_copy):
    edit(base_copy / "agreement.yaml", """  - party: ccg
    body: Governing Body
    date: 2017-03-22
""", "")
    text = recitals(base_copy)
    assert re.search(r"On \[[^\]]*date of approval[^\]]*\] the \[[^\]]*approving body[^\]]*\] of [^.]*Clinical "
                     r"Commissioning Group approved its entry into this Agreement\.", text), text
    council_blanks = re.findall(r"approving body\W+of [^.]*Council", text)
    assert not council_blanks


def test_the_improvement_is_set_as_sentences_not_a_quotation(base_copy):
    text = recitals(base_copy)
    assert "“" not in text.split("improvement in the way the Functions are exercised")[1].split("(")[0]


def test_a_pending_decision_is_recited_once_not_again_as_a_blank_approval(base_copy):
    """A decision still to be taken prints its own blanks; the party does not also get a blank "approved its entry"
    recital (Haringey's (E)/(G) and (F)/(H) said the same thing twice)."""
    edit(base_copy / "agreement.yaml", CABINET, CABINET + "    decision: pending\n")
    text = recitals(base_copy)
    assert "It was proposed that the Cabinet of" in text and "whether to approve the Council’s entry" in text
    assert not re.search(r"approving body\W+of [^.]*Council", text), text
