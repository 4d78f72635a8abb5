"""Check reports: findings as JSON (the DESIGN.md contract), SARIF 2.1.0, and text for a terminal."""
