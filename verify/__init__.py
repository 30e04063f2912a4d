"""verify: prove that a migrated store holds exactly the data of the old one."""

import os

# Allocator settings that must be in the environment before the library that reads them is
# loaded; a value the user set is kept. glibc's, which can change at run time, are in
# verify/engine/memory.py.
#
# The Arrow buffers pyarrow builds (the SQLAlchemy reader's segments; the ADBC and ConnectorX
# readers hand theirs to Polars without it) from the C library's allocator, which hands a
# segment's freed buffers back: mimalloc, pyarrow's default, keeps about 30 MB
# more resident for the same run and is no faster here (make bench). pyarrow reads it once.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
# Polars' jemalloc, read when polars is loaded: one arena for all threads (verify's workers and
# Polars' pool) instead of four per core, so that the pages a segment's frames freed are the
# ones the next segment's get, whichever thread builds them. On a 1M-row diff (2 cores) that
# is 30% fewer page faults, 0.4 s (7%) less wall time and 30 MB less peak memory; the
# threads' own caches keep small allocations off the arena's lock.
os.environ.setdefault("_RJEM_MALLOC_CONF", "narenas:1")

__version__ = "0.1.0"
