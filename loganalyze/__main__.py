"""``python -m loganalyze``."""

from .cli.app import main

main()
