"""Scenarios: realistic migrations with planted defects and their ground truth."""
