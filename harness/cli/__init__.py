"""The `kharness` command line, one module per command family."""
