"""Python dependencies: declared (requirements, pyproject, lock files), resolved (installed dist-info)."""
