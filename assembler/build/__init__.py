"""The one pipeline (load, validate, assemble, check), the final-build gate, the compliance report,
writing a build to disk and the provenance manifest; house clause library layers merged over the
built-in library and linted (layers, lint).

May import: source, check, engine, word and the top-level shared modules.
"""
