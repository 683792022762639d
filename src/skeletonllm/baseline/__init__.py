"""The feature baseline: a small topology-aware encoder over normalized shared body joints, aligned with the MiniLM
embeddings of the class names, that never renders an image (`skeletonllm baseline`).

joints (the shared body joints and the mapping of any topology onto them), clips (prepared samples as fixed-length
shared-joint clips), text (class-name embeddings), encoder (the model and its loss), train, evaluate (the tasks
openvocab, gzsl, closed and crossformat; metrics and figures from skeletonllm.eval) and cli.
"""
