"""Stand-ins for outside services, for tests and benchmarks: never used by the product itself."""
