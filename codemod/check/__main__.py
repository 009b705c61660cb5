"""``python -m codemod.check`` == ``thespian-trace migration-check``."""
import sys

from .cli import main

sys.exit(main())
