"""What the model teachers (openai, hf) are shown: instructions, measured motion and frames drawn by a DrAction.

The renderer is a DrAction checkpoint, or by default a fresh one: DrAction serves every topology, so an untrained
renderer (its initial weights follow from a fixed seed) already draws any prepared dataset.
"""

from __future__ import annotations

import base64
import io

import numpy as np

SYSTEM = ("You explain skeleton action clips. Reason step by step about which body parts move, when, in which "
          "direction, how fast and what they touch, then conclude. End with a last line 'Label: <action>'.")
SAMPLING_TEMPERATURE = 0.7  # attempts after the first sample at this temperature; the first is greedy


def load_renderer(checkpoint: str | None):
    """(renderer, name): the DrAction saved in the checkpoint folder, or a fresh DrAction with the default config;
    the name identifies it in the answer cache."""
    from skeletonllm.render.draction import DrAction, DrActionConfig

    if checkpoint:
        return DrAction.load(checkpoint).eval(), str(checkpoint)
    return DrAction(DrActionConfig()).eval(), "fresh DrAction(DrActionConfig())"


def png_data_url(frame: np.ndarray) -> str:
    """A data:image/png;base64 URL of one uint8 frame [H, W, 3]."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def instruction(label: str, classes: list[str], condition_on_label: bool, observations: str) -> str:
    """The user text: measured motion, then either the true label to explain or the candidate classes."""
    text = f"Measured motion of the clip (body frame, torso lengths):\n{observations}\n\n"
    if condition_on_label:
        return text + (f"The true action is '{label}'. Explain step by step how the motion shows it, without "
                       f"naming the action before the final line 'Label: {label}'.")
    return text + ("Which action is it? Candidates: " + "; ".join(classes) + ". Reason step by step, then give "
                   "the final line 'Label: <action>'.")


def messages(text: str, frame_urls: list[str]) -> list[dict]:
    """OpenAI chat messages: the system prompt and one user turn with the text and the frames as image parts."""
    parts = [{"type": "text", "text": text}] + [{"type": "image_url", "image_url": {"url": u}} for u in frame_urls]
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": parts}]
