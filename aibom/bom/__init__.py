"""BOM writers: CycloneDX now; SPDX writers join here."""
