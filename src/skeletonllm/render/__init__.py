"""DrAction: differentiable Gaussian skeleton rendering (rasterizer backends, renderers, CLI)."""
