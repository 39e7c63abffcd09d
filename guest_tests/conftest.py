"""guest_tests run in real guests through the kharness plugin (harness/plugin.py).

Select the kernel with --kharness-config (default: examples/quickstart.yaml via pytest.ini
of this directory is not used; pass it explicitly or set ini kharness_config).
"""
