"""Rasterizer backends behind skeletonllm.render.rasterize.rasterize: dense (reference), torch (culled), gsplat."""
