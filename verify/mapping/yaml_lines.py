"""YAML loading that remembers the line of every mapping key, for errors that name the line."""

from __future__ import annotations

from typing import Any

import yaml

from verify.errors import MappingError


class LineDict(dict[Any, Any]):
    """A YAML mapping that knows its own line and the line of each of its keys (1-based)."""

    def __init__(self, *args: Any, line: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are LineDicts; duplicate keys are kept for the validator."""

    duplicate_keys: list[tuple[int, Any]]


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict(line=node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, (dict, list)):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain name or value, not a list or a mapping",
                key_node.start_mark,
            )
        if key in result.key_lines:
            loader.duplicate_keys.append((key_node.start_mark.line + 1, key))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str, what: str = "mapping") -> tuple[Any, list[tuple[int | None, str]]]:
    """Parse a YAML file into LineDicts, with its duplicate keys as problems for the validator.

    A missing file or a syntax error is a MappingError at once: nothing else can be checked.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise MappingError(path, [(None, f"{what} file not found; check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(path, [(None, f"cannot read the {what} file: {exc}")]) from None
    try:
        loader = _LineLoader(text)
    except yaml.reader.ReaderError as exc:  # the text holds a character YAML does not allow
        line: int | None = text.count("\n", 0, exc.position) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else exc.character
        problem = f"character {char!r} is not allowed in YAML ({exc.reason}); remove it"
        raise MappingError(path, [(line, problem)]) from None
    loader.duplicate_keys = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise MappingError(path, [(line, f"YAML syntax error: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise MappingError(path, [(None, f"YAML syntax error: {exc}")]) from None
    except RecursionError:
        raise MappingError(path, [(None, f"the {what} nests too deeply to read")]) from None
    finally:
        loader.dispose()
    duplicates: list[tuple[int | None, str]] = [
        (line, f"key '{key}' is given twice") for line, key in loader.duplicate_keys
    ]
    return data, duplicates
