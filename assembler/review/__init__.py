"""Comparing two versions: loading each, the semantic diff, the Word redline and the deed of variation.

May import: everything below it (source, check, engine, word, build).
"""
