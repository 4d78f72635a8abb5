"""YAML read safely and bounded: PyYAML's safe loader, a size cap, no aliases, limited nesting."""

from __future__ import annotations

import functools
from typing import Any

MAX_DEPTH = 64


class YamlError(ValueError):
    """The text is not YAML aibom will read."""


@functools.cache
def _loader() -> type:
    """The bounded loader class; PyYAML loads on the first YAML read, not with every scanner."""
    import yaml

    class _BoundedLoader(yaml.SafeLoader):
        """Safe loader that refuses aliases (no expansion bombs) and deep nesting."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._depth = 0

        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent):
                raise YamlError("YAML aliases are not accepted")
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise YamlError(f"YAML nested deeper than {MAX_DEPTH}")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return _BoundedLoader


def load_yaml(text: str, max_chars: int = 1 << 20) -> Any:
    """The single YAML document in `text`. Raises YamlError for anything unreadable or too large."""
    if len(text) > max_chars:
        raise YamlError(f"YAML larger than {max_chars} characters")
    import yaml

    loader = None
    try:
        loader = _loader()(text)
        return loader.get_single_data()
    except YamlError:
        raise
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        raise YamlError(str(exc).replace("\n", " ")[:200]) from None
    finally:
        if loader is not None:
            loader.dispose()
