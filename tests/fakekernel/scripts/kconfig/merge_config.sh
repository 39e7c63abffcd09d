#!/bin/sh
# fake merge_config.sh -m -O DIR BASE FRAGMENT...: later values win
[ "$1" = "-m" ] && shift
[ "$1" = "-O" ] && { out="$2"; shift 2; }
base="$1"; shift
python3 - "$out/.config" "$base" "$@" <<'PY'
import re, sys
out, files = sys.argv[1], sys.argv[2:]
vals = {}
for f in files:
    for line in open(f).read().splitlines():
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line) or re.match(r"^# (CONFIG_\w+) is not set$", line)
        if m:
            vals[m.group(1)] = line
open(out, "w").write("\n".join(vals.values()) + "\n")
PY
