"""The `openai` teacher: any OpenAI-compatible chat endpoint, shown frames drawn by a DrAction renderer."""

from __future__ import annotations

from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.render.images import rendered_frames
from skeletonllm.teacher.answer import Answer
from skeletonllm.teacher.prompt import SAMPLING_TEMPERATURE, messages, png_data_url


class OpenAITeacher:
    """Asks a chat endpoint (a skeletonllm.remote.chat.ChatClient) about rendered frames plus the instruction text."""

    def __init__(self, renderer, client, max_tokens: int = 512):
        self.renderer = renderer
        self.client = client
        self.max_tokens = max_tokens

    def answer(self, seq: SkeletonSequence, text: str, attempt: int) -> Answer:
        """The endpoint's rationale for one sample: greedy on attempt 0, sampled after (the client raises
        EndpointUnreachable / ChatError)."""
        urls = [png_data_url(frame) for frame in rendered_frames(self.renderer, seq.joints, seq.topology)]
        temperature = 0.0 if attempt == 0 else SAMPLING_TEMPERATURE
        reply = self.client.reply(messages(text, urls), max_tokens=self.max_tokens, temperature=temperature)
        return Answer(reply.text, reply.finish_reason == "length")
