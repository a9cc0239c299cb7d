"""Allow ``python -m assembler`` as well as the ``s75`` console script."""

from assembler.cli import main

main()
