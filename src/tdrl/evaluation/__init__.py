"""Evaluation (``tdrl eval``, ``tdrl convert``): benchmark loaders (``benchmarks``), dataset converters
(``datasets``), the unbiased pass@k estimator (``passk``), bootstrap confidence intervals
(``intervals``), and the report that verifies runs and writes pass@k, a JSON summary and plots (``report``)."""
