"""`verify check`: hold a mapping against both live schemas before reading any rows."""

from __future__ import annotations

from dataclasses import dataclass

from verify.engine.plan import EntityPlan


@dataclass(frozen=True)
class CheckResult:
    """The resolved plan of each entity: canonical types, partition column, segments."""

    entities: tuple[EntityPlan, ...]


def check_mapping(mapping_path: str, old_url: str, new_url: str) -> CheckResult:
    """Plan every entity without reading rows; a mapping that does not fit raises MappingError."""
    from verify.engine.run import DiffOptions, plan_run

    plans, _, _ = plan_run(DiffOptions(mapping_path=mapping_path, old_url=old_url, new_url=new_url))
    return CheckResult(tuple(plans))
