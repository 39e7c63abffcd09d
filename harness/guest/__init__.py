"""Driving a booted guest: SSH, THP knobs and sysfs, counters, the collapse model, workloads."""
