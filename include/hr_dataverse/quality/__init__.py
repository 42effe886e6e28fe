"""Data-quality checks of the HR warehouse with Great Expectations Core (imported lazily)."""
