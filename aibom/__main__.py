"""`python -m aibom` is the `aibom` command."""

from .cli import run

run()
