"""Compiler and checker output -> Diagnostic records (gcc, clang, sparse, kernel-doc).

gcc prints the function as a context line ("f.c: In function 'g':") before its warnings;
clang, sparse and kernel-doc do not, so the function is then found in the source itself
(`enclosing_function`, the way `git diff` finds a hunk's function). Notes ("note: 'pte'
was declared here", clang's "uninitialized use occurs here") stay with their warning;
include chains ("In file included from") are context, not diagnostics. Paths are made
relative to the source tree, whatever O= or srctree prefix the build printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from harness.checks.model import Diagnostic

DIAG = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s*"
                  r"(?P<sev>warning|error|fatal error|note)\s*:\s*(?P<msg>.*?)"
                  r"(?:\s+\[(?P<flag>-W[^\]]+)\])?\s*$")
# kernel-doc (perl "file:line: warning: msg"; python "Warning: file:line msg")
KDOC = re.compile(r"^(?:Warning|WARNING|warning): (?P<file>[^\s:]+):(?P<line>\d+):? (?P<msg>.+)$")
IN_FUNCTION = re.compile(r"^(?P<file>[^\s:][^:]*): In (?:member )?function "
                         r"['\u2018](?P<fn>[^'\u2019]+)"
                         r"['\u2019]:\s*$")
# gcc's inlining context: "In function 'f',\n    inlined from 'g' at file:line:" (no file:
# prefix): the next warning is in f
INLINED = re.compile(r"^In function ['\u2018](?P<fn>[^'\u2019]+)['\u2019],\s*$")
AT_TOP = re.compile(r"^(?P<file>[^\s:][^:]*): At top level:\s*$")
FUNC_DEF = re.compile(r"^[A-Za-z_][\w\s\*]*?\b(?P<name>[A-Za-z_]\w*)\s*\((?!\*)")
NOT_A_DEF = re.compile(r";\s*$|^(?:typedef|struct|union|enum|extern|#)\b")
SourceReader = Callable[[str], list[str] | None]
# gcc quotes with U+2018/U+2019 under a UTF-8 locale: one spelling for comparison
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'"})


def tree_reader(tree: Path) -> SourceReader:
    """Lines of a tree-relative path as checked out now (None when it is not a file)."""
    def read(path: str) -> list[str] | None:
        f = tree / path
        return f.read_text(errors="replace").splitlines() if f.is_file() else None
    return read


def normalise_path(path: str, prefixes: Iterable[str] = ()) -> str:
    for p in sorted((p.rstrip("/") + "/" for p in prefixes if p), key=len, reverse=True):
        if path.startswith(p):
            path = path[len(p):]
            break
    while path.startswith("./"):
        path = path[2:]
    return path


def _flag(raw: str | None) -> str:
    if not raw:
        return ""
    flag = raw.replace("-Werror=", "-W")
    return flag.removesuffix("=")


def parse(text: str, prefixes: Iterable[str] = (), source: SourceReader | None = None,
          kernel_doc: bool = True) -> list[Diagnostic]:
    """Every warning/error in `text` (notes attached), in order, de-duplicated. W=1 builds
    also run kernel-doc on each object; `kernel_doc=False` leaves those lines to the
    kernel-doc check."""
    prefixes = tuple(prefixes)
    out: list[Diagnostic] = []
    function: dict[str, str] = {}
    inlined = ""
    for raw in text.splitlines():
        line = raw.rstrip().translate(QUOTES)
        if m := INLINED.match(line):
            inlined = m["fn"]
        elif m := IN_FUNCTION.match(line):
            function[normalise_path(m["file"], prefixes)] = m["fn"]
        elif m := AT_TOP.match(line):
            function[normalise_path(m["file"], prefixes)] = ""
        elif m := DIAG.match(line):
            path = normalise_path(m["file"], prefixes)
            sev = "error" if m["sev"] == "fatal error" else m["sev"]
            if sev == "note":
                if out:
                    out[-1] = replace(out[-1], notes=out[-1].notes + (
                        f"{path}:{m['line']}: {m['msg']}",))
                continue
            out.append(Diagnostic(path, int(m["line"]), int(m["col"] or 0), sev, m["msg"],
                                  _flag(m["flag"]), inlined or function.get(path, "")))
            inlined = ""
        elif kernel_doc and (m := KDOC.match(line)):
            out.append(Diagnostic(normalise_path(m["file"], prefixes), int(m["line"]), 0,
                                  "warning", m["msg"].strip()))
    return _with_functions(_unique(out), source)


def _unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A header's warning repeats once per object that includes it: keep one."""
    seen: set[tuple[str, int, int, str, str]] = set()
    out = []
    for d in diags:
        k = (d.file, d.line, d.column, d.severity, d.message)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out


def _with_functions(diags: list[Diagnostic], source: SourceReader | None) -> list[Diagnostic]:
    if source is None:
        return diags
    cache: dict[str, list[str] | None] = {}
    out = []
    for d in diags:
        if d.function:
            out.append(d)
            continue
        if d.file not in cache:
            cache[d.file] = source(d.file)
        lines = cache[d.file]
        out.append(replace(d, function=enclosing_function(lines, d.line)) if lines else d)
    return out


def enclosing_function(lines: list[str], line: int) -> str:
    """Name of the C function whose body holds 1-based `line` ("" at top level)."""
    for i in range(min(line, len(lines)) - 1, -1, -1):
        text = lines[i]
        if text.startswith("}") and i != line - 1:
            return ""
        m = FUNC_DEF.match(text)
        if m and not NOT_A_DEF.search(text) and text[:1] not in (" ", "\t"):
            return m["name"]
    return ""
