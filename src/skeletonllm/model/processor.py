"""`SkeletonLLMProcessor`: InternVL's processor with an image processor and a tokenizer only (every rendered frame
is an image), so it works without torchvision.

transformers' `InternVLProcessor` also holds a video processor, and that attribute's class check fails without
torchvision. The subclass drops it and loads both the tiny model's folder (written by `save_pretrained`) and the
folder of a real OpenGVLab/InternVL3-*-hf checkpoint (processor_config.json, preprocessor_config.json, tokenizer
files; its video_preprocessor_config.json is ignored). The image processor is GotOcr2's: the PIL one without
torchvision, the torchvision one with it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from transformers import InternVLProcessor

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # InternVL's normalization (InternViT was trained with ImageNet statistics)
IMAGENET_STD = (0.229, 0.224, 0.225)


def image_processor_class():
    """GotOcr2ImageProcessor (torchvision backend) when torchvision is installed, else GotOcr2ImageProcessorPil."""
    if importlib.util.find_spec("torchvision") is not None:
        from transformers.models.got_ocr2.image_processing_got_ocr2 import GotOcr2ImageProcessor

        return GotOcr2ImageProcessor
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    return GotOcr2ImageProcessorPil


def make_image_processor(size: int):
    """A GotOcr2 image processor for square frames of `size` pixels: one tile per frame (no cropping to patches),
    ImageNet mean/std, as InternVL3 normalizes."""
    return image_processor_class()(size={"height": size, "width": size}, crop_to_patches=False,
                                   image_mean=list(IMAGENET_MEAN), image_std=list(IMAGENET_STD))


class SkeletonLLMProcessor(InternVLProcessor):
    """InternVLProcessor without the video processor: `.tokenizer`, `.image_processor`, `.image_seq_length`,
    `.start_image_token`, `.end_image_token`, `.image_token` (<IMG_CONTEXT>), `.image_token_id`,
    `apply_chat_template` and `__call__` behave as InternVLProcessor's for images and text, except that an image
    is never cropped into tiles: one frame, one tile, image_seq_length tokens."""

    images_kwargs = {"crop_to_patches": False}

    def __init__(self, image_processor=None, tokenizer=None, image_seq_length: int = 256, chat_template=None,
                 **kwargs):
        super().__init__(image_processor, tokenizer, None, image_seq_length=image_seq_length,
                         chat_template=chat_template, **kwargs)


def load_processor(name_or_path: str | Path) -> SkeletonLLMProcessor:
    """The processor of a model folder (the tiny model's or a real InternVL3-hf checkpoint's) or of a hub id already
    on this machine (`build.local_checkpoint`); never downloads."""
    from skeletonllm.model.build import local_checkpoint

    return SkeletonLLMProcessor.from_pretrained(str(local_checkpoint(name_or_path)), local_files_only=True)
