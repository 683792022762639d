"""SkeletonLLM: universal skeleton understanding via differentiable rendering and MLLMs."""

__version__ = "0.1.0"
