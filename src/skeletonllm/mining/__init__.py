"""Hard-negative mining: for each action class, its top-k most similar classes (embedding, kinematic, llm, file).

`neighbours.top_k` turns a class-similarity matrix into the hard-negative mapping; `compare.compare` scores a
mapping against a reference list by class id; `cli` is the `skeletonllm mine` subcommand.
"""
