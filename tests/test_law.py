"""Every agreement speaks the law of its own date.

The law-in-force table (assembler/data/law.yaml) says when each statute,
body, funding stream and toolkit could be cited. Each example, and a
synthetic agreement made at dates from 2014 to 2026, is built and its text
scanned for every name in the table: a name cited on a date when no row
carrying it was in force is an anachronism. Text typed in the YAML (party
names, scheme titles) is the user's, not the clause library's, and is taken
out before the scan.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml

from assembler import law
from assembler.build.pipeline import assemble_source
from assembler.engine.library import ValueSlots, default_library, make_environment
from assembler.engine.text import render_text
from assembler.model import Record, kind_label, party_kinds
from assembler.source.folder import DirectorySource
from conftest import EXAMPLES, ROOT

SYNTHETIC_FROM = ROOT / "agreements" / "portsmouth-framework-2022"
DATES = [dt.date(2014, 6, 2), dt.date(2016, 6, 1), dt.date(2018, 6, 1), dt.date(2021, 6, 1), dt.date(2023, 6, 1),
         dt.date(2026, 6, 1)]


def _strings(data) -> set[str]:
    if isinstance(data, str):
        return {data}
    if isinstance(data, dict):
        return set().union(*(_strings(v) for v in data.values())) if data else set()
    if isinstance(data, (list, tuple)):
        return set().union(*(_strings(v) for v in data)) if data else set()
    return set()


def _yaml_strings(folder: Path) -> set[str]:
    found = set()
    for path in [folder / "agreement.yaml", *sorted((folder / "schedules").glob("*.yaml"))]:
        found |= _strings(yaml.safe_load(path.read_text(encoding="utf-8")))
    found |= {s[4:] for s in found if s.startswith("the ")}  # short names head table columns without "the"
    return {s for s in found if len(s) >= 3}


def _pattern(name: str) -> re.Pattern:
    # A one-word name ("Monitor", "CCG") is matched as written; longer names whatever their case.
    flags = 0 if " " not in name else re.IGNORECASE
    return re.compile(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", flags)


def anachronisms(text: str, day: dt.date, typed: set[str]) -> list[str]:
    """Names from the law table cited in ``text`` although nothing carrying that name was in force on ``day``."""
    text = re.sub(r"\s+", " ", text)
    for value in sorted(typed, key=len, reverse=True):
        value = re.sub(r"\s+", " ", value.strip())
        text = text.replace(value, " ").replace(value.upper(), " ")  # headings are printed in capitals
    carriers: dict[str, list[law.LawRow]] = {}
    for row in law.law_rows().values():
        for name in {row.name, row.short}:
            carriers.setdefault(name, []).append(row)
    found = []
    for name, rows in sorted(carriers.items()):
        # Law already made may be named as law to come (the GDPR in a 2017 agreement running past May 2018).
        if _pattern(name).search(text) and not any(r.in_force(day) or r.known(day) for r in rows):
            found.append(f"{name!r} ({', '.join(r.key for r in rows)}) on {day}")
    return found


def _text(folder: Path) -> tuple[str, dt.date]:
    assembled = assemble_source(DirectorySource(str(folder)))
    agreement = assembled.validation.agreement
    return render_text(assembled.document), law.as_date(agreement.law_date)


def _shift(value, years: int):
    if isinstance(value, dt.date):
        return value.replace(year=value.year + years)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return _shift(dt.date.fromisoformat(value), years)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and re.fullmatch(r"\d{4}-\d{2}", key):
                first = int(key[:4]) + years
                key = f"{first}-{(first + 1) % 100:02d}"
            out[key] = _shift(item, years)
        return out
    if isinstance(value, list):
        return [_shift(v, years) for v in value]
    return value


def _rename(value, old: str, new: str):
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    return value


def synthetic(day: dt.date, dest: Path) -> Path:
    """The Portsmouth framework moved to ``day``: every date and year shifted, the NHS party of its time."""
    dest.mkdir(parents=True)
    (dest / "schedules").mkdir()
    framework = yaml.safe_load((SYNTHETIC_FROM / "agreement.yaml").read_text(encoding="utf-8"))
    years = day.year - framework["commencement"].year
    framework = _shift(framework, years)
    framework["commencement"], framework["agreement_date"] = day, dt.date(day.year, day.month, day.day)
    framework.pop("supersedes", None)  # those agreements belong to Portsmouth in 2022
    icb = law.in_force("integrated-care-boards", day) is not None
    nhs_body = ("CCG", "ICB") if icb else ("ICB", "CCG")
    framework = _rename(framework, *nhs_body)
    for party in framework["parties"]:
        party.pop("succeeds", None)
        party.pop("succeeded_by", None)  # the Portsmouth CCG's successor, fixed by the law of 2022
        if party["kind"] in ("ccg", "icb"):
            party["kind"] = "icb" if icb else "ccg"
            party["name"] = "NHS Portsmouth " + ("Integrated Care Board" if icb else "Clinical Commissioning Group")
    (dest / "agreement.yaml").write_text(yaml.safe_dump(framework, sort_keys=False), encoding="utf-8")
    bcf = law.in_force("better-care-fund", day) is not None
    for path in sorted((SYNTHETIC_FROM / "schedules").glob("*.yaml")):
        schedule = _rename(_shift(yaml.safe_load(path.read_text(encoding="utf-8")), years), *nhs_body)
        if schedule.get("better_care_fund") and not bcf:
            continue  # no Better Care Fund before 2015-16
        (dest / "schedules" / path.name).write_text(yaml.safe_dump(schedule, sort_keys=False), encoding="utf-8")
    return dest


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_cites_only_the_law_of_its_date(example):
    text, day = _text(example)
    assert anachronisms(text, day, _yaml_strings(example)) == []


@pytest.mark.parametrize("day", DATES, ids=str)
def test_synthetic_agreement_cites_only_the_law_of_its_date(day, tmp_path):
    folder = synthetic(day, tmp_path / "agreement")
    text, law_day = _text(folder)
    assert law_day == day
    assert anachronisms(text, day, _yaml_strings(folder)) == []


def test_the_scan_finds_an_anachronism():
    """The scan itself: names from after the date, or replaced before it, are found; names of the time are not."""
    text = ("personal data under the Data Protection Act 2018 and the UK GDPR; claims handled by the NHS "
            "Litigation Authority; the Better Care Fund; the CCG")
    found = anachronisms(text, dt.date(2016, 9, 26), set())
    assert any("Data Protection Act 2018" in f for f in found)
    assert any("UK GDPR" in f for f in found)
    assert not any("Litigation" in f or "Better Care Fund" in f or "CCG" in f for f in found)
    assert any("Litigation" in f for f in anachronisms(text, dt.date(2018, 1, 1), set()))
    assert anachronisms(text, dt.date(2016, 9, 26), {"the UK GDPR", "Data Protection Act 2018"}) == []


@pytest.mark.parametrize(("day", "expected"), [
    (dt.date(2016, 9, 26), "Data Protection Act 1998"),
    (dt.date(2019, 1, 1), "General Data Protection Regulation (EU) 2016/679 and the Data Protection Act 2018"),
    (dt.date(2023, 1, 1), "UK GDPR (as defined in section 3(10) of the Data Protection Act 2018)"),
])
def test_law_picks_the_row_in_force_on_the_agreements_date(day, expected):
    clause = default_library().clauses["data-protection"]
    definition = dict(clause.defines)["Data Protection Legislation"]
    slots = ValueSlots()
    env = make_environment(slots)
    agreement = Record({"law_date": day.isoformat(), "end": day.isoformat()})  # nothing to come
    rendered = env.from_string(definition).render(agreement=agreement)
    text = re.sub("\ue000(\\d+)\ue001", lambda m: slots.values[int(m.group(1))], rendered)
    assert expected in re.sub(r"\s+", " ", text)


def _render(source: str, day: dt.date, end: dt.date) -> str:
    slots = ValueSlots()
    rendered = make_environment(slots).from_string(source).render(
        agreement=Record({"law_date": day.isoformat(), "end": end.isoformat()}))
    return re.sub(r"\s+", " ", re.sub("\ue000(\\d+)\ue001", lambda m: slots.values[int(m.group(1))], rendered))


@pytest.mark.parametrize(("day", "end", "present", "absent"), [
    # Made in 2017, running past 25 May 2018: the GDPR is named from that day, the DPA 2018 (not yet enacted) is not.
    (dt.date(2017, 9, 1), dt.date(2019, 3, 31),
     ["Data Protection Act 1998 and, from 25 May 2018, the General Data Protection Regulation (EU) 2016/679, "
      "and any law that replaces or supplements any of them"], ["Data Protection Act 2018", "UK GDPR"]),
    # Ending before the GDPR applies: nothing to come.
    (dt.date(2017, 9, 1), dt.date(2018, 3, 31), ["the Data Protection Act 1998."], ["General Data Protection"]),
    # Made before the GDPR was adopted: it cannot be named, only "as amended or replaced" covers it.
    (dt.date(2016, 3, 1), dt.date(2019, 3, 31), ["the Data Protection Act 1998."], ["General Data Protection"]),
    # Made after: the law of today.
    (dt.date(2018, 6, 1), dt.date(2021, 3, 31),
     ["the General Data Protection Regulation (EU) 2016/679 and the Data Protection Act 2018."], ["1998"]),
])
def test_data_protection_names_the_gdpr_from_when_it_applies(day, end, present, absent):
    definition = dict(default_library().clauses["data-protection"].defines)["Data Protection Legislation"]
    text = _render(definition, day, end)
    assert all(p in text for p in present), text
    assert not any(a in text for a in absent), text


@pytest.mark.parametrize(("day", "end", "present", "absent"), [
    # March 2024, to 2027: the Act had Royal Assent but no commencement day yet.
    (dt.date(2024, 3, 28), dt.date(2027, 3, 31),
     ["Public Contracts Regulations 2015 (SI 2015/102) or, for a procurement begun once the Procurement Act 2023 "
      "is in force, that Act"], ["24 February 2025"]),
    # October 2024: the day had been fixed.
    (dt.date(2024, 10, 1), dt.date(2027, 3, 31),
     ["or, for a procurement begun on or after 24 February 2025, the Procurement Act 2023"], []),
    # A term ending before it: the PCR 2015 alone.
    (dt.date(2024, 3, 28), dt.date(2025, 1, 31), ["Public Contracts Regulations 2015"], ["Procurement Act"]),
    # Made after it: the Act alone.
    (dt.date(2025, 4, 1), dt.date(2028, 3, 31), ["the Procurement Act 2023, as amended"], ["Public Contracts"]),
    # December 2023, to 2026: the Provider Selection Regime from 1 January 2024.
    (dt.date(2023, 12, 10), dt.date(2026, 3, 31),
     ["(SI 2013/500) or, for services arranged on or after 1 January 2024, the Health Care Services (Provider "
      "Selection Regime) Regulations 2023"], []),
    (dt.date(2023, 11, 1), dt.date(2026, 3, 31), ["(SI 2013/500), as amended"], ["Provider Selection"]),
])
def test_procurement_names_the_law_that_starts_during_the_term(day, end, present, absent):
    text = _render(default_library().clauses["procurement"].body, day, end)
    assert all(p in text for p in present), text
    assert not any(a in text for a in absent), text


def test_law_refuses_a_topic_with_nothing_in_force():
    env = make_environment(ValueSlots())
    with pytest.raises(ValueError, match="in_force"):
        env.from_string("{{ law('gdpr') }}").render(agreement=Record({"law_date": "2016-01-01"}))
    source = "{{ 'yes' if in_force('gdpr') else 'no' }}"
    assert env.from_string(source).render(agreement=Record({"law_date": "2016-01-01"})) != \
        env.from_string(source).render(agreement=Record({"law_date": "2019-01-01"}))


def test_every_topic_names_rows_of_the_table():
    rows = law.law_rows()
    for topic, keys in law.law_topics().items():
        assert keys and all(k in rows for k in keys), topic


def test_party_kind_labels_follow_the_date():
    assert "Commissioning Board" in kind_label("nhs_england", "2016-01-01")
    assert kind_label("nhs_england", "2023-01-01").startswith("NHS England")
    for kind, row in party_kinds().items():
        for label in row["labels"]:
            assert "law" not in label or label["law"] in law.law_rows(), kind


def test_gdpr_words_only_once_the_gdpr_applies():
    """Words the GDPR brought (personal data breach, data protection officer) wait for it."""
    before, _ = _text(ROOT / "agreements" / "haringey-2016")
    after, _ = _text(SYNTHETIC_FROM)
    before, after = re.sub(r"\s+", " ", before), re.sub(r"\s+", " ", after)
    for words in ("personal data breach", "data protection officer", "impact assessment"):
        assert (words in after) and (words not in before or words == "impact assessment"), words
    assert "privacy impact assessment" in before and "data protection impact assessment" in after
    assert "breach of security" in before and "breach of security" not in after


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_yaml_text_too_names_only_the_law_of_its_date(example):
    """The text the YAML supplies (line names, descriptions) speaks its date as well; only a successor the
    agreement records in advance (succeeded_by) may be a body of the future."""
    text, day = _text(example)
    framework = yaml.safe_load((example / "agreement.yaml").read_text(encoding="utf-8"))
    future = {p["succeeded_by"]["name"] for p in framework["parties"] if "succeeded_by" in p}
    assert anachronisms(text, day, future) == []
