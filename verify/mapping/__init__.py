"""Mappings: how the old store's tables and columns become the new store's."""

from verify.mapping.load import file_sha256, load_mapping
from verify.mapping.model import Column, Entity, KeyColumn, Mapping, Rule, Side, Tolerance
from verify.mapping.types import CanonicalType

__all__ = [
    "CanonicalType",
    "Column",
    "Entity",
    "KeyColumn",
    "Mapping",
    "Rule",
    "Side",
    "Tolerance",
    "file_sha256",
    "load_mapping",
]
