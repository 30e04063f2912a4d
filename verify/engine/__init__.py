"""The diff engine: plan segments, normalize both sides, compare, classify."""
