"""Benchmarks behind `skeletonllm bench`: throughput figures measured on data the project writes itself."""
