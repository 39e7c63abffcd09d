"""Where kernels come from: Debian's archive (signed indexes), kernel trees, series, worktrees."""
