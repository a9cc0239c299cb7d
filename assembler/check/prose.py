"""Defined-term discipline in the YAML's free text: warnings a solicitor would mark up.

The clause library defines terms (Partner, Pool Manager, Scheme...); text
typed in the YAML and set into the agreement should use them as defined,
not "the pool manager" or "partners", and should not capitalise a phrase
the agreement never defines. Periods should be counted one way: in Working
Days or in days, in figures or in words. All four are warnings: a draft may
carry them, a final build may not.

The defined terms come from the clause library, which this stage cannot
read; the pipeline passes them in (see ``build.pipeline.check_source``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Iterable, Iterator

import yaml

from assembler.check.consistency import _phrase, wording
from assembler.check.rules import Context
from assembler.diagnostics import WARNING, Diagnostic
from assembler.resources import data_file
from assembler.source.yamlfile import YamlFile

_WORD = re.compile(r"(?<![\w'\u2019])[A-Za-z][\w'\u2019-]*")
_WORD_SPLIT = re.compile(f"({_WORD.pattern})")  # splits a text into the words and what lies between them
_CONNECTORS = {"of", "and", "for", "the", "in", "on", "to"}
_SENTENCE_END = ".!?:;(\u201c\""  # after one of these (and any spaces), or at the start, a capital starts a sentence
_CITATION = re.compile(r"^\s+(\d{4}|\(|No\b)")  # "Care Act 2014", "Regulations (SI ...)"
_CODE = re.compile(r"^[a-z0-9_-]+$")  # a key or an enum value (pooled_fund), never prose
_CITED = {"Act", "Regulations", "Order", "Rules", "Directions", "Guidance"}


def field(path: tuple) -> str:
    """The name of the field a value is in: ("lines", 0, "name") -> "name"; a list item -> the list's name."""
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return ""


def prose(texts: list[tuple[tuple, str]]) -> list[tuple[tuple, str]]:
    """The free-text values among a file's ``texts`` (path, text): names, posts, codes and dates are left out."""
    skip = _not_prose()
    return [(path, text) for path, text in texts if field(path) not in skip and not _CODE.match(text)]


@lru_cache(maxsize=None)
def _not_prose() -> frozenset[str]:
    return frozenset(wording()["not_prose"])


@dataclass(frozen=True)
class Terms:
    """What the agreement may write with capitals, and the lower-case forms it may not."""

    defined: frozenset[str]
    phrases: frozenset[str]  # every run of whole words inside a name the agreement or the law table gives
    whole: frozenset[str]  # the names and terms themselves

    def known(self, phrase: str) -> bool:
        """Part of a known name, or known names one after another ("Partner's Contribution")."""
        return phrase in self.phrases or self._pieces(phrase.split())

    def _pieces(self, words: list[str]) -> bool:
        if not words:
            return True
        if words[0] in _CONNECTORS:
            return self._pieces(words[1:])
        return any(" ".join(words[:n]) in self.whole and self._pieces(words[n:]) for n in range(len(words), 0, -1))


@lru_cache(maxsize=None)
def _law_names() -> tuple[str, ...]:
    rows = yaml.safe_load(data_file("law.yaml").read_text(encoding="utf-8"))["law"]
    return tuple(str(row[field]) for row in rows for field in ("name", "short") if row.get(field))


def agreement_terms(ctx: Context, defined: Iterable[str]) -> Terms:
    framework = ctx.framework
    defined = frozenset(defined)
    declared = framework.data.get("names") if isinstance(framework.data, dict) else None
    names = {name for name in declared or () if isinstance(name, str)}  # agreement.yaml names:
    for doc in (framework, *ctx.schedules):
        for path, text in ctx.texts(doc):
            if field(path) in _NAME_FIELDS:
                names.add(text.removeprefix("the ").strip())
    phrases, whole = _phrases(names)
    every_phrase, every_whole = _library_phrases(defined)
    return Terms(defined, frozenset(phrases | every_phrase), frozenset(whole | every_whole))


@lru_cache(maxsize=8)
def _library_phrases(defined: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """``_phrases`` of the names any agreement may use with this library: its terms and their plurals, the law
    table's names and the proper nouns; the same on every build, where the agreement's own names are not."""
    phrases, whole = _phrases(set(defined) | {t + "s" for t in defined} | set(_law_names())
                              | set(wording()["proper_nouns"]))
    return frozenset(phrases), frozenset(whole)


def _phrases(names: Iterable[str]) -> tuple[set[str], set[str]]:
    """Every run of whole words in the names, and each name's words joined (see Terms)."""
    phrases, whole = set(), set()
    for name in names:
        runs, joined = _name_phrases(name)
        phrases |= runs
        whole.add(joined)
    return phrases, whole


_NAME_FIELDS = frozenset({"name", "short_name", "role", "deputy", "title", "body", "notices_to", "approved_by",
                          "reviewed_by", "reports_to", "pass_through_to", "who", "to", "through", "posts", "refer_to",
                          "officer", "consulting"})


@lru_cache(maxsize=4096)
def _name_phrases(name: str) -> tuple[frozenset[str], str]:
    """Every run of whole words in a name, and the name's words joined: the same for a name on every build."""
    words = [_plain(w.strip(",.;:()\u201c\u201d\"")) for w in name.split()]
    return frozenset(" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)), \
        " ".join(words)


# --- lower-case uses of defined terms ----------------------------------------------------


@lru_cache(maxsize=8)
def _lower_pattern(defined: frozenset[str]) -> tuple[re.Pattern, dict[str, str]] | None:
    """One pattern for every term whose lower-case use is worth a warning, and phrase -> term."""
    singles = wording()["lower_case_terms"]
    phrases: dict[str, str] = {}
    for term in sorted(defined):
        if " " in term and term.lower() != term:
            phrases[term.lower()] = term
        elif term in singles:
            phrases.update({phrase: term for phrase in singles[term]})
    if not phrases:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(r"(?<![\w-])(" + alternatives + r")(s|'s|s'|\u2019s|s\u2019)?(?![\w-])"), phrases


def lower_case_terms(text: str, defined: frozenset[str]) -> list[tuple[str, str]]:
    """(as written, the defined term) for each defined term written in lower case."""
    compiled = _lower_pattern(defined)
    if compiled is None:
        return []
    pattern, phrases = compiled
    matches = list(pattern.finditer(text))
    if not matches:
        return []  # most text: no phrase to look for the fixed phrases around
    fixed = [m.span() for phrase in wording()["lower_case_phrases"] for m in _phrase(phrase).finditer(text)]
    return [(m.group(0), phrases[m.group(1)]) for m in matches
            if not any(start <= m.start() < end for start, end in fixed)]


# --- capitalised phrases the agreement does not define ----------------------------------------


def _runs(text: str) -> Iterator[tuple[int, str, bool]]:
    """(start, phrase, starts a sentence) for each run of capitalised words (joined by of, and, for...)."""
    # Cut in C into the text before the first word, a word, the text up to the next word...: a match object and a
    # tuple for every word of every text once cost more than the rest of the check.
    parts = _WORD_SPLIT.split(text)
    words = parts[1::2]
    capitals = [word[0].isupper() for word in words]
    if not any(capitals):
        return  # no run to find
    count = len(words)
    ends = list(accumulate(map(len, parts)))  # word k starts at ends[2k] and ends at ends[2k + 1]
    spaces = [not between.strip() for between in parts[2::2]]  # only spaces (or nothing) after word k

    def capital(k: int) -> bool:
        return k < count and capitals[k]

    i = 0
    while i < count:
        if not capitals[i]:
            i += 1
            continue
        j = i
        while True:
            if spaces[j] and capital(j + 1):
                j += 1
            elif spaces[j] and j + 1 < count and words[j + 1] in _CONNECTORS and spaces[j + 1] and capital(j + 2):
                j += 2
            else:
                break
        start = ends[2 * i]
        yield start, text[start:ends[2 * j + 1]], _starts_sentence(text, start)
        i = j + 1


def _starts_sentence(text: str, start: int) -> bool:
    """Nothing but spaces before ``start``, or a full stop, colon, bracket or opening quote and spaces: reading back
    over the spaces is enough, where a pattern searched over all of the text before cost a fifth of the prose checks."""
    before = text[:start].rstrip()
    return not before or before[-1] in _SENTENCE_END


def _name_like(word: str) -> bool:
    """An acronym (NHS), a word built on one (NHS-funded), or a brand in camel case (SystmOne)."""
    if word[1:].islower() and word.isalpha():
        return False  # most words: "Partner", one capital and then lower-case letters
    parts = word.split("-")
    return any(len(p) > 1 and p.isupper() for p in parts) or any(c.isupper() for c in word[1:]) \
        or any(c.isdigit() for c in word)


def _plain(word: str) -> str:
    return _POSSESSIVE.sub("", word)


_POSSESSIVE = re.compile(r"('s|s'|\u2019s|s\u2019|'|\u2019)$")


def undefined_capitals(text: str, terms: Terms) -> list[str]:
    """Capitalised phrases that are neither defined, nor a name the agreement or the law gives, nor a sentence's start."""
    found = []
    for start, phrase, sentence_start in _runs(text):
        words = phrase.split()
        if words[-1] in _CITED and _CITATION.match(text[start + len(phrase):]):
            continue  # a statute cited by name and year
        if _plain(words[-1]) in _address_words():
            continue  # a street or a building
        if sentence_start:
            words = words[1:]
        segments, current = [], []
        for word in words + ["NHS"]:  # acronyms and brands split a run: "Haringey GP practices"
            if _name_like(word):
                segments.append(current)
                current = []
            else:
                current.append(word)
        for segment in segments:
            while segment and segment[0] in _CONNECTORS:
                segment = segment[1:]
            while segment and segment[-1] in _CONNECTORS:
                segment = segment[:-1]
            rest = " ".join(_plain(w) for w in segment)
            if rest and not terms.known(rest) and not terms.known(rest.removesuffix("s")):
                found.append(rest)
    return found


@lru_cache(maxsize=None)
def _address_words() -> frozenset[str]:
    return frozenset(wording()["address_words"])


# --- periods ---------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _period() -> re.Pattern:
    numbers = "|".join(sorted((re.escape(w) for w in wording()["number_words"]), key=len, reverse=True))
    return re.compile(r"(?<![\w-])(\d+|" + numbers + r")(?:\s*\(\d+\))?[\s-]+(working[\s-]+|calendar[\s-]+|clear[\s-]+)?"
                      r"(day|week|month|year)s?(?![\w-])", re.IGNORECASE)


_UNITS = ("day", "week", "month", "year")  # every period the pattern finds holds one (text.lower() folds as it does)


@dataclass(frozen=True)
class Period:
    doc: YamlFile
    path: tuple
    text: str  # as written, e.g. "six months"
    in_words: bool
    working: bool  # "working days"
    plain_days: bool  # "days" with no qualifier


def periods(doc: YamlFile, texts: list[tuple[tuple, str]]) -> Iterator[Period]:
    """Each time limit written in the file's prose ``texts``; results and metric names ("at home 91 days after
    discharge") are not limits."""
    for path, text in texts:
        if field(path) in wording()["not_periods"]:
            continue
        lowered = text.lower()
        if not any(unit in lowered for unit in _UNITS):
            continue  # most prose names no unit: four substring tests instead of the pattern tried at every letter
        for m in _period().finditer(text):
            qualifier = (m.group(2) or "").strip(" -").lower()
            unit = m.group(3).lower()
            yield Period(doc, path, m.group(0), not m.group(1).isdigit(), qualifier == "working",
                         unit == "day" and not qualifier)


# --- the findings ------------------------------------------------------------------------------


def prose_findings(ctx: Context, defined: Iterable[str]) -> list[Diagnostic]:
    """Every prose warning of one agreement (``ctx``: its files, as the rules see them); ``defined`` are the clause
    library's defined terms."""
    terms = agreement_terms(ctx, defined)
    findings: list[Diagnostic] = []
    docs = (ctx.framework, *ctx.schedules)
    texts = [prose(ctx.texts(doc)) for doc in docs]  # each file's prose, read once for both kinds of check
    for doc, doc_texts in zip(docs, texts):
        for path, text in doc_texts:
            lower, capitals = lower_case_terms(text, terms.defined), undefined_capitals(text, terms)
            if not lower and not capitals:
                continue  # most text: nothing to report, so no line and column to look up
            where = doc.source.locate(path)
            seen = set()
            for written, term in lower:
                if term not in seen:
                    seen.add(term)
                    findings.append(Diagnostic(
                        where, WARNING, "S75-TERM-CASE",
                        f"'{written}' is the defined term '{term}' in lower case",
                        f"write '{term}' (or its plural) as the agreement defines it, or reword"))
            for phrase in dict.fromkeys(capitals):
                findings.append(Diagnostic(
                    where, WARNING, "S75-TERM-UNDEFINED",
                    f"'{phrase}' is capitalised, but the agreement does not define it or name a body, party or "
                    "post by it", "write it in lower case, use the name the agreement gives it, or define it"))
    found = [p for doc, doc_texts in zip(docs, texts) for p in periods(doc, doc_texts)]
    findings += _mixed(found, lambda p: p.working, lambda p: p.plain_days, "S75-PERIOD-UNITS",
                       "Working Days", "days", "count every period in Working Days, or every one in days")
    findings += _mixed(found, lambda p: not p.in_words, lambda p: p.in_words, "S75-PERIOD-STYLE",
                       "figures", "words", "write every period the same way, in figures (6 months) or in words")
    return findings


def _mixed(found: list[Period], one, other, code: str, one_name: str, other_name: str, hint: str) -> list[Diagnostic]:
    """Where the agreement writes periods both ways: a warning at each of the less common way."""
    ones, others = [p for p in found if one(p)], [p for p in found if other(p)]
    if not ones or not others:
        return []
    if code == "S75-PERIOD-UNITS":  # a mix with Working Days: the plain days are the ones to settle
        minority, majority, minority_name, majority_name = others, ones, other_name, one_name
    elif len(ones) >= len(others):
        minority, majority, minority_name, majority_name = others, ones, other_name, one_name
    else:
        minority, majority, minority_name, majority_name = ones, others, one_name, other_name
    example = majority[0]
    at = example.doc.source.locate(example.path)
    return [Diagnostic(p.doc.source.locate(p.path), WARNING, code,
                       f"'{p.text}' is in {minority_name}, but the agreement also counts in {majority_name} "
                       f"('{example.text}' at {at})", hint) for p in minority]
