"""Every money table of every example adds up, checked by a computation that does not use the model.

The expected figures are read straight from the schedule YAML (each line's
contribution by partner and year) and summed here; the table's cells are
read back from their text. Every row must add across to its total, every
column down to its totals, and every figure must be the YAML's.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import yaml

from assembler.build.pipeline import assemble_source
from assembler.engine import tree
from assembler.model import Money, format_money, total
from assembler.source.folder import DirectorySource
from tests.conftest import BASE, EXAMPLES

FOLDERS = [BASE, *EXAMPLES]
TBC = None


def _amount(cell: str) -> Decimal | None:
    """"£1,300,000" -> 1300000; "-£5.50" -> -5.50; "–" (nil) -> 0; "[●]" (a blank to complete) -> None."""
    if cell == "[\u25cf]":
        return TBC
    if cell == "\u2013":
        return Decimal(0)
    match = re.fullmatch(r"(-?)£([\d,]+(?:\.\d\d)?)", cell)
    assert match, f"not an amount: {cell!r}"
    return Decimal(match.group(2).replace(",", "")) * (-1 if match.group(1) else 1)


def _sum(amounts) -> Decimal | None:
    amounts = list(amounts)
    return TBC if any(a is TBC for a in amounts) else sum(amounts, Decimal(0))


def _yaml_amount(value) -> Decimal | None:
    return TBC if value == "tbc" else Decimal(str(value))


def _schedules(folder):
    for path in sorted((folder / "schedules").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("lines"):
            yield data


def _tables(folder) -> dict[str, list[tree.Table]]:
    document = assemble_source(DirectorySource(str(folder))).document
    return {s.key: [b for b in s.blocks if isinstance(b, tree.Table)] for s in document.sections}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_contribution_table_adds_up_and_shows_the_yaml(folder):
    tables = _tables(folder)
    checked = 0
    for data in _schedules(folder):
        partners = data["partners"]
        years = sorted({year for line in data["lines"] for year in line.get("contributions", {})})
        by_year = {t.caption.rsplit(" ", 1)[-1]: t for t in tables[data["key"]] if t.caption.startswith("Contributions")}
        assert sorted(by_year) == years, data["key"]
        for year in years:
            table = by_year[year]
            lines = [line for line in data["lines"] if year in line.get("contributions", {})]
            expected = [[_yaml_amount(line["contributions"][year].get(p, 0)) for p in partners] for line in lines]
            rows = [[_amount(cell) for cell in row[2:]] for row in table.rows]
            line_rows, total_rows = rows[:len(lines)], {row[0]: rows[i] for i, row in enumerate(table.rows) if i >= len(lines)}
            assert [row[0] for row in table.rows[:len(lines)]] == [line["name"] for line in lines]
            for row, want in zip(line_rows, expected):
                assert row[:-1] == want  # each partner's figure is the YAML's
                assert row[-1] == _sum(want)  # the row adds across
            kinds = {line["type"] for line in lines}
            wanted_totals = {"Total": [line_rows[i] for i in range(len(lines))]}
            if kinds == {"revenue", "capital"}:
                for label, kind in (("Total revenue", "revenue"), ("Total capital", "capital")):
                    wanted_totals[label] = [line_rows[i] for i, line in enumerate(lines) if line["type"] == kind]
            assert set(total_rows) == set(wanted_totals), table.rows
            for label, members in wanted_totals.items():
                columns = range(len(partners) + 1)
                assert total_rows[label] == [_sum(row[c] for row in members) for c in columns], (label, year)
                assert total_rows[label][-1] == _sum(total_rows[label][:-1]) or TBC in total_rows[label][:-1]
            checked += 1
    assert checked, "no table was checked"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_partner_totals_tables_add_up(folder):
    tables = _tables(folder)
    for data in _schedules(folder):
        for table in tables[data["key"]]:
            if table.columns[0] != "Financial year":
                continue
            years = [row for row in table.rows if " to " not in row[0]]
            for row in years:
                year, figures = row[0], [_amount(c) for c in row[1:]]
                want = [_sum(_yaml_amount(line["contributions"][year].get(p, 0)) for line in data["lines"]
                             if year in line.get("contributions", {})) for p in data["partners"]]
                assert figures == want + [_sum(want)], (data["key"], year)
            for row in table.rows[len(years):]:  # the whole-term row: each column's years added up
                columns = [[_amount(r[c]) for r in years] for c in range(1, len(row))]
                assert [_amount(c) for c in row[1:]] == [_sum(col) for col in columns], (data["key"], row[0])


def test_the_base_agreement_has_a_revenue_and_a_capital_total():
    """The audit's case: revenue £1,300,000 (not the £200,000 of capital) and capital £200,000."""
    pool = next(t for t in _tables(BASE)["pool"] if t.caption.startswith("Contributions"))
    rows = {row[0]: row for row in pool.rows}
    assert rows["Total revenue"][-1] == "£1,300,000" and rows["Total capital"][-1] == "£200,000"
    assert rows["Total"][-1] == "£1,500,000"


# --- Money itself (what scripts/mutate.py found no test for) ------------------------------------------------------


@pytest.mark.parametrize("value,shown", [
    (1250000, "£1,250,000"), ("1250000.5", "£1,250,000.50"), ("0.50", "£0.50"), ("0.99", "£0.99"), (0, "£0"),
    ("-5.5", "-£5.50"), ("-1250000", "-£1,250,000"), ("tbc", "TBC"), (None, "TBC")])
def test_an_amount_is_written_in_pounds_with_pence_only_when_it_has_them(value, shown):
    money = Money.parse(value)
    assert format_money(money) == str(money) == shown


@pytest.mark.parametrize("value", [1.5, 0.0, True, False])
def test_a_float_or_a_boolean_is_never_money(value):
    with pytest.raises(TypeError, match="money must be exact"):
        Money.parse(value)


def test_a_sum_is_exact_and_tbc_makes_it_tbc():
    parts = [Money.parse("0.10")] * 3 + [Money.parse(999999999999999)]
    assert total(parts).amount == Decimal("999999999999999.30")
    assert total([Money.parse(5), Money.parse("tbc"), Money.parse(7)]).is_tbc
    assert total([]) == Money(Decimal(0)) and not total([]).is_tbc
