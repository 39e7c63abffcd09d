"""Rust symbol names as a kernel developer reads them: the v0 mangling (RFC 2603) that Rust code in
the kernel is built with, `_RNvMs3_NtCs..._11rust_binder7processNtB5_7Process10update_ref` ->
`<rust_binder::process::Process>::update_ref`.

Only what a stack frame's title needs: crate roots, nested paths, inherent and trait impls,
backreferences and the common types; generic arguments are dropped (one title per function,
whatever it was instantiated with), crate disambiguators and closures' indices too. A symbol
this does not understand is left as printed (`demangle` returns None).
"""

from __future__ import annotations

BASIC = {"a": "i8", "b": "bool", "c": "char", "d": "f64", "e": "str", "f": "f32", "h": "u8",
         "i": "isize", "j": "usize", "l": "i32", "m": "u32", "n": "i128", "o": "u128",
         "s": "i16", "t": "u16", "u": "()", "v": "...", "x": "i64", "y": "u64", "z": "!",
         "p": "_"}
DIGITS62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Unsupported(Exception):
    """A construct this reader does not render."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        ch = self.peek()
        if not ch:
            raise _Unsupported("end of symbol")
        self.pos += 1
        return ch

    def base62(self) -> int:
        if self.peek() == "_":
            self.pos += 1
            return 0
        value = 0
        while (ch := self.take()) != "_":
            if ch not in DIGITS62:
                raise _Unsupported(ch)
            value = value * 62 + DIGITS62.index(ch)
        return value + 1

    def decimal(self) -> int:
        start = self.pos
        while self.peek().isdigit():
            self.pos += 1
        if start == self.pos:
            raise _Unsupported("no length")
        return int(self.text[start:self.pos])

    def disambiguator(self) -> None:
        """An optional `s<base-62>` disambiguator: not shown."""
        if self.peek() == "s":
            self.pos += 1
            self.base62()

    def ident(self) -> str:
        self.disambiguator()
        if self.peek() == "u":
            raise _Unsupported("punycode")
        length = self.decimal()
        if self.peek() == "_":
            self.pos += 1
        name = self.text[self.pos:self.pos + length]
        if len(name) != length:
            raise _Unsupported("short identifier")
        self.pos += length
        return name

    def backref(self, parse: str) -> str:
        target = self.base62()
        if target >= self.pos:
            raise _Unsupported("forward backref")
        saved, self.pos = self.pos, target
        out = self.path() if parse == "path" else self.type()
        self.pos = saved
        return out

    def path(self) -> str:
        tag = self.take()
        if tag == "C":
            return self.ident()
        if tag == "N":
            ns = self.take()
            parent = self.path()
            name = self.ident()
            if ns.isupper():                     # closure, shim ...: {closure}
                what = {"C": "closure", "S": "shim"}.get(ns, ns)
                return f"{parent}::{{{what}}}"
            return f"{parent}::{name}" if name else parent
        if tag == "M":
            self.disambiguator()
            self.path()                          # (the impl's own path: not shown)
            return f"<{self.type()}>"
        if tag == "X":
            self.disambiguator()
            self.path()
            ty = self.type()
            return f"<{ty} as {self.path()}>"
        if tag == "Y":
            ty = self.type()
            return f"<{ty} as {self.path()}>"
        if tag == "I":
            base = self.path()
            while self.peek() != "E":
                self._generic_arg()
            self.pos += 1
            return base
        if tag == "B":
            return self.backref("path")
        raise _Unsupported(tag)

    def _generic_arg(self) -> None:
        if self.peek() == "L":                   # lifetime
            self.pos += 1
            self.base62()
        elif self.peek() == "K":
            raise _Unsupported("const generic")
        else:
            self.type()

    def type(self) -> str:
        ch = self.peek()
        if ch in BASIC:
            self.pos += 1
            return BASIC[ch]
        if ch in "CMXYNI":
            return self.path()
        self.pos += 1
        if ch == "B":
            return self.backref("type")
        if ch in "RQ":
            if self.peek() == "L":
                self.pos += 1
                self.base62()
            return ("&" if ch == "R" else "&mut ") + self.type()
        if ch in "PO":
            return ("*const " if ch == "P" else "*mut ") + self.type()
        if ch == "S":
            return f"[{self.type()}]"
        if ch == "T":
            parts = []
            while self.peek() != "E":
                parts.append(self.type())
            self.pos += 1
            return "(" + ", ".join(parts) + ")"
        raise _Unsupported(ch)


def demangle(symbol: str) -> str | None:
    """`<Type>::method`, `crate::module::function` ... for a v0-mangled symbol (`_R...`, also
    behind a CFI stub's `__cfi_` prefix); None for anything else or anything not understood."""
    name = symbol.removeprefix("__cfi_")
    if not name.startswith("_R"):
        return None
    reader = _Reader(name[2:])
    if reader.peek().isdigit():                  # encoding version
        reader.decimal()
    try:
        return reader.path()
    except (_Unsupported, RecursionError):
        return None
