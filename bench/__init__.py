"""Benchmarks of trigger (not tests): each prints figures and writes bench/results/*.json."""
