"""Outputs for people and tools: HTML report, charts, JUnit, KCIDB."""
