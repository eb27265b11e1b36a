"""Benchmarks run by `make bench`; numbers go in the README."""
