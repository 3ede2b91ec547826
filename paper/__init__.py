"""Figure scripts and the manuscript (not an installed package; run from the repository root)."""
