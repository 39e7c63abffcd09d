"""Kernel reports on the console: the table of kinds, parsing, titles, culprits, symbolisation."""
