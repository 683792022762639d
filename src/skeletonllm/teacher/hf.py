"""The `hf` teacher: a local vision-language model through transformers (for a GPU job; imported lazily)."""

from __future__ import annotations

from skeletonllm.formats.sequence import SkeletonSequence
from skeletonllm.render.images import rendered_frames
from skeletonllm.teacher.answer import Answer
from skeletonllm.teacher.prompt import SAMPLING_TEMPERATURE, SYSTEM


class HFTeacher:
    """Generates a rationale with a transformers image-text-to-text model (a processor with a chat template) from
    rendered frames and the instruction text."""

    def __init__(self, renderer, model: str, max_new_tokens: int = 512, device: str | None = None):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.renderer = renderer
        self.processor = AutoProcessor.from_pretrained(model)
        self.model = AutoModelForImageTextToText.from_pretrained(model, dtype="auto").to(self.device).eval()
        self.max_new_tokens = max_new_tokens

    def answer(self, seq: SkeletonSequence, text: str, attempt: int) -> Answer:
        """The rationale for one sample: greedy on attempt 0, sampled (seeded by the attempt) after. Cut off when
        generation reached max_new_tokens without an end-of-sequence token."""
        import torch
        from PIL import Image

        images = [Image.fromarray(frame) for frame in rendered_frames(self.renderer, seq.joints, seq.topology)]
        chat = [{"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
                {"role": "user", "content": [{"type": "image"} for _ in images] + [{"type": "text", "text": text}]}]
        prompt = self.processor.apply_chat_template(chat, add_generation_prompt=True)
        inputs = self.processor(text=prompt, images=images, return_tensors="pt").to(self.device)
        sampling = {"do_sample": False} if attempt == 0 else {"do_sample": True, "temperature": SAMPLING_TEMPERATURE}
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(attempt)
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, **sampling)
        new_tokens = out[0, inputs["input_ids"].shape[1]:]
        eos = self.model.generation_config.eos_token_id
        cut_off = len(new_tokens) >= self.max_new_tokens and int(new_tokens[-1]) not in (
            eos if isinstance(eos, list) else [eos])
        return Answer(self.processor.decode(new_tokens, skip_special_tokens=True).strip(), cut_off)
