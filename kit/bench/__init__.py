"""Benchmarks (``make bench``): stage timings on generated worlds (``stages``), the CLV models
against lifetimes (``clv``) and the experiment statistics on synthetic data (``experiments``).
Nothing in production imports this package."""
