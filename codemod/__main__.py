"""``python -m codemod`` == ``thespian-trace``."""
import sys

from .cli import main

sys.exit(main())
