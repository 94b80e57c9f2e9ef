"""Benchmarks: loaders for the paper's datasets and a synthetic one, subsets, export to TRL."""
