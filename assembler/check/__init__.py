"""Checks on loaded data, before anything is drafted: JSON Schemas, cross-field and statutory rules,
the requirement table, and validation that builds the model.

May import: the top-level shared modules and assembler.source.
"""
