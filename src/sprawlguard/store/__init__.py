"""Storage: the SQLite inventory and the baseline file."""
