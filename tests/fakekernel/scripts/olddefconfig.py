import os, sys
config, drop = sys.argv[1], sys.argv[2]
dropped = set(open(drop).read().split()) if os.path.exists(drop) else set()
lines = [l for l in open(config).read().splitlines() if l.split("=")[0] not in dropped]
open(config, "w").write("\n".join(lines) + "\n")
