"""Which objects to recompile for a series: the .c files it touches that the config
builds, and for a touched header the objects that depend on it (kbuild's .o.cmd files
list every header an object includes), a few, nearest the series first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HEADER_OBJECTS = 6       # per touched header: "within reason"


@dataclass(frozen=True)
class Selection:
    objects: tuple[str, ...]        # make targets, e.g. mm/khugepaged.o
    skipped: tuple[str, ...] = ()   # touched sources not built by this config

    def note(self) -> str:
        return (f"not built by this config: {', '.join(self.skipped)}" if self.skipped else "")


def cmd_file(objdir: Path, obj: str) -> Path:
    p = Path(obj)
    return objdir / p.parent / f".{p.name}.cmd"


def select(touched: tuple[str, ...], objdir: Path) -> Selection:
    objects: list[str] = []
    skipped: list[str] = []
    for path in touched:
        if not path.endswith(".c"):
            continue
        obj = path[:-2] + ".o"
        if cmd_file(objdir, obj).exists():
            objects.append(obj)
        else:
            skipped.append(path)
    headers = [p for p in touched if p.endswith(".h")]
    if headers:
        dirs = {str(Path(p).parent) for p in touched}
        for h in headers:
            users = dependents(objdir, h)
            users.sort(key=lambda o: (str(Path(o).parent) not in dirs,
                                      not o.startswith("mm/"), o))
            objects.extend(o for o in users[:HEADER_OBJECTS] if o not in objects)
    return Selection(tuple(dict.fromkeys(objects)), tuple(skipped))


def dependents(objdir: Path, header: str) -> list[str]:
    """Objects of the last build whose dependency list names `header`."""
    needle = "/" + header
    out = []
    for cmd in objdir.rglob(".*.o.cmd"):
        rel = cmd.relative_to(objdir)
        if rel.parts[0] in ("scripts", "tools", "usr") or rel.name.startswith(".tmp"):
            continue
        try:
            text = cmd.read_text(errors="replace")
        except OSError:
            continue
        if needle in text or f" {header} " in text:
            out.append(str(rel.parent / rel.name[1:-4]))
    return out
