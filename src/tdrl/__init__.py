"""tdrl: test-driven reinforcement learning for code and reasoning models.

The package root stays light: ``import tdrl`` loads no torch, transformers or ray. Heavy
stages are imported from their own subpackages when used.
"""

from tdrl.api import verify, verify_async
from tdrl.records import Problem, Result, Sample, Test, TestResult

__version__ = "0.1.0"
__all__ = ["Problem", "Result", "Sample", "Test", "TestResult", "verify", "verify_async", "__version__"]
