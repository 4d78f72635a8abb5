"""aibom: what an AI project ships, where it came from, whether it may ship, and whether it is safe to load."""

__version__ = "0.1.0"  # the package version (pyproject.toml reads it from here)
