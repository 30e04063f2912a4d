"""Readers: Arrow record batches for a segment of one side, one module per way of reading."""

READERS = ("auto", "adbc", "connectorx", "sqlalchemy")  # --reader: each family says which it has
