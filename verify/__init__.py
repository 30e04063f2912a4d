"""verify: prove that a migrated store holds exactly the data of the old one."""

import os

# The Arrow buffers pyarrow builds (the SQLAlchemy reader's segments; the ADBC and ConnectorX
# readers hand theirs to Polars without it) from the C library's allocator, which hands a
# segment's freed buffers back: mimalloc, pyarrow's default, keeps about 30 MB
# more resident for the same run and is no faster here (make bench). Set before pyarrow is
# imported, which reads it once; a value the user set is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

__version__ = "0.1.0"
