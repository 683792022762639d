"""The MLLM: the tiny InternVL built offline, InternVL3 presets, and the loading code shared with real checkpoints."""
