"""Dataset file readers: each reads only what it needs (footers, headers, bounded samples)."""
