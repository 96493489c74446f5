"""Run records: the schema-versioned JSON each run writes, and reading them back."""
