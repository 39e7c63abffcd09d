"""Results: the journal, verdicts, nightly history, the terminal summary, run metadata."""
