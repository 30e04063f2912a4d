"""Render a RunReport in each format and write the files whole (temp file, then rename)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from verify.errors import UsageError
from verify.report.model import RunReport


def render_json(report: RunReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


def renderers() -> dict[str, Callable[[RunReport], str]]:
    from verify.report.html import render_html
    from verify.report.junit import render_junit
    from verify.report.markdown import render_markdown

    return {"html": render_html, "markdown": render_markdown, "junit": render_junit, "json": render_json}


def write_text(path: str, text: str, option: str) -> None:
    """Write a report file atomically: a reader sees the old file or the new one, never half."""
    folder = os.path.dirname(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise UsageError(f"cannot write {option} {path}: {exc.strerror}; give a writable path") from None
