"""Runs over many kernels: the run matrix, bisect, reproducers."""
