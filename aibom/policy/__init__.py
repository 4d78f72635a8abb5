"""Policy: rules over an inventory (from a scan or read back from a BOM), openness levels, license reasoning."""
