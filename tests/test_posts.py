"""A post prints the same whether the YAML types it with "the" or without: never "the the", never a bare post."""

from __future__ import annotations

import pytest

from assembler.build.pipeline import assemble_source
from assembler.engine.text import render_text
from assembler.source.folder import DirectorySource

from conftest import edit

CABINET = """  - party: council
    body: Cabinet
    date: 2017-03-14
"""


def text_of(root) -> str:
    return " ".join(render_text(assemble_source(DirectorySource(str(root))).document).split())


@pytest.mark.parametrize("article", ["", "the ", "The "])
def test_chair_posts_with_or_without_the(base_copy, article):
    edit(base_copy / "agreement.yaml", "      decisions: unanimous\n",
         f"      decisions: unanimous\n      chair:\n        posts: [{article}Council's Chief Executive,"
         f" {article}CCG's Accountable Officer]\n")
    text = text_of(base_copy)
    assert ("is chaired in turn by the Council's Chief Executive and the CCG's Accountable Officer, as they agree"
            in text), text[text.find("chaired"):][:200]
    assert "the the" not in text.lower()


@pytest.mark.parametrize("article", ["", "the ", "The "])
def test_single_chair_post_starts_its_sentence(base_copy, article):
    edit(base_copy / "agreement.yaml", "      decisions: unanimous\n",
         f"      decisions: unanimous\n      chair:\n        posts: [{article}Council's Chief Executive]\n")
    assert "The Council's Chief Executive chairs the Joint Commissioning Board." in text_of(base_copy)


@pytest.mark.parametrize("article", ["", "the "])
def test_authorised_officer_and_consulted_posts(base_copy, article):
    edit(base_copy / "agreement.yaml", CABINET, CABINET + f"""    authorised:
      - officer: {article}Director of Adult Services
        consulting: [{article}Director of Finance, {article}Leader]
        to: complete
""")
    assert ("authorised its Director of Adult Services, after consulting the Director of Finance and the Leader, "
            "to complete this Agreement.") in text_of(base_copy)


@pytest.mark.parametrize("article", ["", "the "])
def test_pool_manager_post_after_the_host_partner(base_copy, article):
    edit(base_copy / "schedules" / "pool.yaml", "    role: Head of Integrated Commissioning",
         f"    role: {article}Head of Integrated Commissioning")
    assert "is the Host Partner’s Head of Integrated Commissioning" in text_of(base_copy)
