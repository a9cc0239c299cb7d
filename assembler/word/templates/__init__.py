"""The Word reference template (``reference.docx``) and the script that makes it."""
