"""libyaml (PyYAML's C parser) and the pure-Python parser must load everything alike.

The loader reads clean files with libyaml for speed and falls back to the
pure-Python parser for anything else; these tests load the same bytes both
ways and require the same data, source map and diagnostics.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from assembler.source import yamlfile as loader
from assembler.source.yamlfile import load_yaml_bytes

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted(p for p in [*ROOT.glob("agreements/**/*.yaml"), *ROOT.glob("tests/**/*.yaml")] if p.is_file())

pytestmark = pytest.mark.skipif(loader._FAST_LOADER is None, reason="PyYAML was built without libyaml")

# Inputs where libyaml and PyYAML are known to differ, or that exercise every
# branch of the event builder; each must come out the same either way.
SNIPPETS = [
    b"name: Better Care Fund\nstart: 2017-04-01\npooled: NO\nversion: 1.10\namount: 1_000_000\n"
    b"time: 12:30\ncode: 0123\nquoted: 'NO'\nempty:\nlist: [a, 'b', \"c\"]\n",
    b"text: |\n  line one\n  line two\nfolded: >-\n  one\n  two\n",
    b"a: \xc2\xa31,000 \xc3\xa9t\xc3\xa9\nb: [\xc2\xa3, \"\xc3\xa9\", c]\n",
    b"partners: [council,\n\tccg]\n",          # a tab libyaml accepts and PyYAML refuses
    b"a:\n\tb: 1\n",
    b"a: {b: c?d}\n",                           # '?' inside flow text
    b"a: >#x\n  text\n",                        # a block scalar header libyaml accepts
    b"!\n",
    b"a: !!str 1\nb: !!int '2'\nc: !!python/object:os.system x\n",
    b"#c\n\xef\xbb\xbf1 \n",                    # a BOM character inside the text
    b"a: 1\x85b: 2\n",
    b"? a\n: b\n? c\n",
    b"a: &x 1\nb: *x\n",
    b"a: 1\na: 2\n",
    b"1: a\nyes: b\n[a]: c\n",
    b"<<: {a: 1}\n",
    b"---\na: 1\n---\nb: 2\n",
    b"a: [1, 2\n",
    b"a: 'unclosed\n",
    b"a: b: c\n",
    b"",
    b"# only a comment\n",
    b"[" * 60 + b"]" * 60,
    b"a:\r\n  b: 1\r\n",
    b"expect:\n- {code: S75-ENUM, file: agreement.yaml, line:}\n",   # where an empty value is
    b"a: {b: , c: d}\nempty:\n",
]


def _outcome(raw: bytes):
    loaded, diagnostics = load_yaml_bytes(raw, "agreements/x/agreement.yaml")
    if loaded is None:
        return None, [d.format() for d in diagnostics]
    source = loaded.source
    # repr keeps types apart (1, 1.0 and True are == in Python)
    return repr((loaded.data, sorted(source.values.items(), key=repr), sorted(source.keys.items(), key=repr),
                 sorted(source.scalars.items(), key=repr))), []


def _both(raw: bytes, monkeypatch):
    fast = _outcome(raw)
    with monkeypatch.context() as patch:
        patch.setattr(loader, "_FAST_LOADER", None)
        slow = _outcome(raw)
    return fast, slow


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_corpus_loads_alike(path, monkeypatch):
    fast, slow = _both(path.read_bytes(), monkeypatch)
    assert fast == slow


@pytest.mark.parametrize("raw", SNIPPETS)
def test_snippets_load_alike(raw, monkeypatch):
    fast, slow = _both(raw, monkeypatch)
    assert fast == slow


def test_example_agreements_take_the_libyaml_path(monkeypatch):
    """The speed-up is real: clean agreement files are read by libyaml, once each."""
    calls = []
    original = loader._Builder.run

    def spy(self, text, parser=yaml.SafeLoader):
        calls.append(parser)
        return original(self, text, parser)

    monkeypatch.setattr(loader._Builder, "run", spy)
    examples = [p for p in CORPUS if p.parts[len(ROOT.parts)] == "agreements"]
    assert examples
    for path in examples:
        calls.clear()
        loaded, diagnostics = load_yaml_bytes(path.read_bytes(), str(path))
        assert loaded is not None and not diagnostics
        assert calls == [loader._FAST_LOADER], path


_YAMLISH = st.text(
    alphabet=st.sampled_from(list("ab:- \n'\"[]{},#&*!|>?%@`~.019\r\t\xa0\u00e9\ufeff\x85")), max_size=60)


@settings(max_examples=400, deadline=None)
@given(_YAMLISH)
def test_arbitrary_yamlish_text_loads_alike(text):
    raw = text.encode("utf-8")
    fast = _outcome(raw)
    saved = loader._FAST_LOADER
    loader._FAST_LOADER = None
    try:
        slow = _outcome(raw)
    finally:
        loader._FAST_LOADER = saved
    assert fast == slow
