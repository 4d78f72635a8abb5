"""aibom: what an AI project ships, where it came from, whether it may ship, and whether it is safe to load."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aibom")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
