"""Where agreements come from: YAML bytes to data with a source map, folders on disk, git revisions.

May import: assembler.diagnostics, assembler.model, assembler.resources.
"""
