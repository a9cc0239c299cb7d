"""What a schedule says about a payment: its amount each year, and whether it is the payer's Contribution.

The westshire-2024 writer could not tell from the document whether the ICB's
payment was its contribution or on top of it, and could not give an amount
by year; these tests read the drafted sentence.
"""

from __future__ import annotations

import re
from pathlib import Path

from assembler.build.pipeline import assemble_source
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource
from tests.test_cases import CASES, materialise

SAME = "Contribution in that Financial Year to the lines of the Scheme that the Council provides"


def _text(case: str, tmp_path: Path) -> str:
    root = materialise(CASES / case, tmp_path / "agreement")
    assembled = assemble_source(DirectorySource(str(root)))
    assert not assembled.validation.errors
    return re.sub(r"\s+", " ", render_text(assembled.document))


def test_an_amount_by_year_is_stated_for_each_year_and_tied_to_the_contribution(tmp_path):
    text = _text("valid/payment-by-year", tmp_path)
    assert ("The CCG pays the Council £300,000 in the Financial Year 2017-18 and £309,000 in the Financial Year "
            "2018-19 for the carers' support service") in text
    assert "Each of those sums is the CCG’s " + SAME + ", paid over to it, and not in addition to" in text


def test_a_payment_that_differs_from_the_contribution_is_not_called_the_contribution(tmp_path):
    text = _text("invalid/payment-by-year-differs", tmp_path)
    assert "£300,000 in the Financial Year 2018-19" in text
    assert SAME not in text
