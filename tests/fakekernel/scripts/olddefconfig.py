import os
import sys
from pathlib import Path

config, drop = Path(sys.argv[1]), sys.argv[2]
dropped = set(Path(drop).read_text().split()) if os.path.exists(drop) else set()
lines = [ln for ln in config.read_text().splitlines() if ln.split("=")[0] not in dropped]
config.write_text("\n".join(lines) + "\n")
