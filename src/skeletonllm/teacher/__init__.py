"""Teacher rationales: step-by-step causal explanations of each training sample that end with `Label: <label>`.

Backends: `kinematic` (offline, from the measured motion; motion_facts + kinematic), `openai` (an OpenAI-compatible
endpoint shown DrAction frames) and `hf` (a local transformers VLM); `skeletonllm teach` (cli) runs them and keeps
only answers that meet the contract (answer).
"""
