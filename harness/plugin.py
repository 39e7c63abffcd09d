"""pytest plugin (filled in by the guest_tests work)."""
