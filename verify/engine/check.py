"""`verify check`: hold a mapping against both live schemas before reading any rows."""

from __future__ import annotations

from dataclasses import dataclass

from verify.engine.plan import EntityPlan


@dataclass(frozen=True)
class CheckResult:
    """The resolved plan of each entity: canonical types, partition column, segments."""

    entities: tuple[EntityPlan, ...]

    def describe(self) -> str:
        lines = []
        for p in self.entities:
            cols = ", ".join(f"{name} {t}" for name, t in p.types.items())
            lines.append(
                f"{p.name}: ok - key ({', '.join(p.keys)}), {len(p.checks)} compared "
                f"columns, {len(p.segments)} segment(s) on "
                f"{p.partition or 'no partition column'}"
            )
            lines.append(f"    canonical: {cols}")
            if p.checksum is not None:
                lines.append("    checksums: yes (--algorithm checksum summarizes key ranges in SQL)")
            else:
                lines.append("    checksums: no, read as rows, because:")
                lines.extend(f"      {why}" for why in p.checksum_notes)
            for note in (*p.type_notes, *p.notes):
                lines.append(f"    note: {note}")
        return "\n".join(lines)


def check_mapping(mapping_path: str, old_url: str, new_url: str) -> CheckResult:
    """Plan every entity without reading rows; a mapping that does not fit raises MappingError."""
    from verify.engine.run import DiffOptions, plan_run

    plans, _, _ = plan_run(DiffOptions(mapping_path=mapping_path, old_url=old_url, new_url=new_url))
    return CheckResult(tuple(plans))
