"""Training: the four stages of SkeletonLLM on the HF Trainer."""
