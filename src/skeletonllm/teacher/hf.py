"""The `hf` teacher: a local vision-language model through transformers (for a GPU job; imported lazily)."""

from __future__ import annotations

from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.teacher.prompt import SYSTEM, render_frames


class HFTeacher:
    """Generates a rationale with a transformers image-text-to-text model from DrAction frames and the text."""

    def __init__(self, renderer_dir: str, model: str, max_new_tokens: int = 512, device: str | None = None):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from skeletonllm.render.draction import DrAction

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.renderer = DrAction.load(renderer_dir).eval()
        self.processor = AutoProcessor.from_pretrained(model)
        self.model = AutoModelForImageTextToText.from_pretrained(model, torch_dtype="auto").to(self.device).eval()
        self.max_new_tokens = max_new_tokens

    def answer(self, seq: SkeletonSequence, text: str) -> str:
        """Greedy-decoded rationale for one sample."""
        import torch
        from PIL import Image

        images = [Image.fromarray(frame) for frame in render_frames(self.renderer, seq)]
        chat = [{"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
                {"role": "user", "content": [{"type": "image"} for _ in images] + [{"type": "text", "text": text}]}]
        prompt = self.processor.apply_chat_template(chat, add_generation_prompt=True)
        inputs = self.processor(text=prompt, images=images, return_tensors="pt").to(self.device)
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new_tokens = out[0, inputs["input_ids"].shape[1]:]
        return self.processor.decode(new_tokens, skip_special_tokens=True).strip()
