"""Word files: the writer (tree to .docx), OOXML declared once, reading a .docx back as text,
the reference template and PDF conversion by LibreOffice.

May import: the top-level shared modules and assembler.engine (its tree).
"""
