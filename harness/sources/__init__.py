"""Where kernels come from: Debian's archive (signed indexes), the kernel tree, series and worktrees."""
