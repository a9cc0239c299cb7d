"""Bounded fuzzing in CI: random documents and mutated example agreements through load, validate and build.

The mutations and the check live in scripts/fuzz.py (which also runs the
long fuzz). Here hypothesis drives them for a few hundred examples: the
only exception allowed to escape is S75Error, every agreement that
validates must build, and no example may run longer than EXAMPLE_SECONDS.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from functools import lru_cache

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("s75_fuzz", ROOT / "scripts" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
sys.modules["s75_fuzz"] = fuzz  # dataclasses look their module up while the class is made
_spec.loader.exec_module(fuzz)

EXAMPLE_SECONDS = 20
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=None)
def corpus() -> tuple:
    return tuple(fuzz.seed_corpus())


@lru_cache(maxsize=None)
def library():
    return fuzz.pick_library()[0]


def check(files, build=True) -> str:
    with fuzz.time_limit(EXAMPLE_SECONDS):
        return fuzz.check(files, library(), build=build)


# --- random documents ---------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["council", "ccg", "trust", "board", "pooled_fund", "lead_commissioning", "2017-18",
                     "2017-04-01", "tbc", "draft", "final", "scheme", "s256", "revenue", "capital", "1.10", "NO"]),
)
keys = st.one_of(st.sampled_from(["key", "title", "kind", "parties", "partners", "lines", "contributions",
                                  "name", "type", "management", "host_partner", "status", "version", "aims",
                                  "arrangements", "commencement", "term", "governance", "finance"]),
                 st.text(min_size=1, max_size=12))
documents = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=5),
                                                              st.dictionaries(keys, children, max_size=6)),
                         max_leaves=40)


@FAST
@given(document=documents, where=st.sampled_from(["agreement.yaml", "schedules/pool.yaml", "schedules/new.yaml"]))
def test_random_documents(document, where):
    files = fuzz.read_agreement(ROOT / "tests" / "cases" / "base")
    files[where] = yaml.safe_dump(document, allow_unicode=True).encode("utf-8")
    check(files)


@FAST
@given(raw=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass"))),
       where=st.sampled_from(["agreement.yaml", "schedules/pool.yaml"]))
def test_random_bytes_and_text(raw, where):
    files = fuzz.read_agreement(ROOT / "tests" / "cases" / "base")
    files[where] = raw
    check(files)


# --- mutations of the example agreements ----------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), which=st.integers(min_value=0, max_value=10**6))
def test_mutated_examples(seed, which):
    """Delete a key, change a type, swap two values, duplicate a schedule, damage text: S75Error only."""
    seeds = corpus()
    files, steps = fuzz.mutate(random.Random(seed), seeds[which % len(seeds)])
    try:
        check(files)
    except Exception as exc:  # say which mutation broke it, then fail with the original traceback
        exc.add_note("after: " + "; ".join(steps))
        raise


@pytest.mark.parametrize("index", range(6))
def test_every_seed_agreement_builds(index):
    """The unmutated seeds validate and build (else the mutations above prove little)."""
    seeds = corpus()
    if index >= len(seeds):
        pytest.skip("fewer seed agreements")
    assert check(dict(seeds[index])) == "built"


@pytest.mark.parametrize("name", ["southampton-bcf-2017", "haringey-2016"])
def test_a_duplicated_schedule_with_its_own_key_builds(name):
    """A valid mutation: a second copy of a scheme under a new key validates and must build."""
    folder = ROOT / "agreements" / name
    if not folder.is_dir():
        pytest.skip(f"{name} is not among the examples")
    files = fuzz.read_agreement(folder)
    schedule = sorted(n for n in files if n.startswith("schedules/"))[0]
    data = yaml.safe_load(files[schedule])
    data["key"] = data["key"] + "-copy"
    data["title"] = data["title"] + " (copy)"
    files[schedule.replace(".yaml", "-copy.yaml")] = fuzz.dump(data)
    outcome = check(files)
    if outcome != "built":
        from assembler.check.validate import validate_source

        codes = {d.code for d in validate_source(fuzz.MemorySource(files)).errors}
        assert codes, "invalid without an error"
        pytest.skip(f"the copy is refused by rule {sorted(codes)}; not a valid mutation for this agreement")


def test_a_duplicated_schedule_with_the_same_key_is_a_finding():
    files = fuzz.read_agreement(ROOT / "tests" / "cases" / "base")
    files["schedules/pool-again.yaml"] = files["schedules/pool.yaml"]
    from assembler.check.validate import validate_source

    validation = validate_source(fuzz.MemorySource(files))
    assert "S75-SCHEDKEY" in {d.code for d in validation.errors}
