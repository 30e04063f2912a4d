"""The allocator settings verify makes before the libraries that read them are loaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_SHOW = (
    "import os, sys, verify.cli; "
    "print(os.environ.get('_RJEM_MALLOC_CONF'), os.environ.get('ARROW_DEFAULT_MEMORY_POOL'))"
)


def _fresh(env_extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", _SHOW], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_polars_gets_one_jemalloc_arena_and_pyarrow_the_system_pool_unless_the_user_chose():
    assert _fresh({}) == ["narenas:1", "system"]
    assert _fresh({"_RJEM_MALLOC_CONF": "narenas:4", "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}) == [
        "narenas:4",
        "mimalloc",
    ]


@pytest.mark.parametrize("module", ["polars", "pyarrow"])
def test_no_allocator_reading_library_is_loaded_before_verify_sets_it(module):
    # verify/__init__.py runs before any verify module, so only the package itself could load
    # polars or pyarrow too early: importing it alone must not.
    code = f"import sys, verify; print({module!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
