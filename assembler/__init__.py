"""s75 assembler: section 75 partnership agreements from YAML to signable Word."""

__version__ = "0.1.0"
