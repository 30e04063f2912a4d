"""verify: prove that a migrated store holds exactly the data of the old one."""

__version__ = "0.1.0"
