"""`python -m aibom` is the `aibom` command."""

from .entry import main

main()
