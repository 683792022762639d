"""The `openai` teacher: any OpenAI-compatible chat endpoint, shown frames rendered by a DrAction checkpoint."""

from __future__ import annotations

from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.teacher.prompt import messages, png_data_url, render_frames


class OpenAITeacher:
    """Asks a chat endpoint (skeletonllm.remote.chat.ChatClient) about DrAction frames plus the instruction text."""

    def __init__(self, renderer_dir: str, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                 requests_per_s: float | None = None, max_tokens: int = 512):
        from skeletonllm.remote.chat import ChatClient
        from skeletonllm.render.draction import DrAction

        self.renderer = DrAction.load(renderer_dir).eval()
        self.client = ChatClient(base_url, model, api_key_env=api_key_env, requests_per_s=requests_per_s)
        self.max_tokens = max_tokens

    def answer(self, seq: SkeletonSequence, text: str) -> str:
        """The endpoint's rationale for one sample (raises EndpointUnreachable / ChatError from the client)."""
        urls = [png_data_url(frame) for frame in render_frames(self.renderer, seq)]
        return self.client.complete(messages(text, urls), max_tokens=self.max_tokens, temperature=0.0).strip()
