"""Building kernels: kconfig fragments, make, build slots and the cache, the build plan."""
