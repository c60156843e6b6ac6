"""``python -m loganalyze``."""

from .cli import main

main()
