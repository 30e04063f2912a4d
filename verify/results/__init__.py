"""Run directories: writing, reading and the typed summaries in them."""
