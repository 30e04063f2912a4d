"""Readers: Arrow record batches for a segment of one side, one module per way of reading."""
