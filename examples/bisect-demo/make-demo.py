import subprocess, sys, re
F = "mm/khugepaged.c"
ID = ["-c", "user.name=Demo Developer", "-c", "user.email=demo@example.org"]
def sh(*a): return subprocess.run(a, check=True, capture_output=True, text=True).stdout
def commit(msg): sh("git", *ID, "commit", "-qam", msg)
SWAP_OLD = """			if (++unmapped > max_ptes_swap) {
				result = SCAN_EXCEED_SWAP_PTE;
				count_vm_event(THP_SCAN_EXCEED_SWAP_PTE);
				count_mthp_stat(HPAGE_PMD_ORDER,
						MTHP_STAT_COLLAPSE_EXCEED_SWAP);
				goto out_unmap;
			}"""
def patch1(comment):
    s = open(F).read(); assert s.count(SWAP_OLD) == 1
    s = s.replace(SWAP_OLD, f"\t\t\t/* {comment} */\n" + SWAP_OLD)
    open(F, "w").write(s)
def patch2(bug, tag):
    s = open(F).read()
    new = SWAP_OLD.replace("goto out_unmap;", "goto out;" if bug else "goto out_unmap;")
    new = new.replace("result = SCAN_EXCEED_SWAP_PTE;", f"result = SCAN_EXCEED_SWAP_PTE; /* {tag} */")
    s = s.replace(SWAP_OLD, new); open(F, "w").write(s)
versions = {
 "v1": ("too many swap ptes: give up on this PMD", False, "bail out"),
 "v2": ("too many swap ptes: give up on this PMD range", False, "bail out, unlock first"),
 "v3": ("too many swap ptes: give up on this PMD range", True, "bail out early"),
 "v4": ("too many swap ptes: give up on this PMD range (mTHP too)", True, "bail out early"),
}
for v, (comment, bug, tag) in versions.items():
    sh("git", "checkout", "-q", "--detach", "base")
    patch1(comment)
    commit(f"mm: khugepaged: document the swap-pte bail-out\n\n{v} of a demo series for kharness bisect.")
    patch2(bug, tag)
    body = ("Skip the unmap path when the scan gives up early." if bug else
            "Annotate the swap-pte bail-out result.")
    commit(f"mm: khugepaged: simplify the swap-pte bail-out\n\n{body}")
    out = f"/work/main/examples/bisect-demo/{v}"
    sh("git", "format-patch", "-q", "--cover-letter", f"--subject-prefix=PATCH {v}", "-o", out, "HEAD~2")
print("ok")
