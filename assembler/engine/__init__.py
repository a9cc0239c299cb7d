"""The clause library and its language, rendering clauses into a tree, numbering, cross-references,
assembly of the whole document, and its plain-text rendering.

May import: the top-level shared modules (not source, check or anything above).
"""
