"""Hugging Face vision-language models: batched inference and LoRA fine-tuning (the ``hf`` extra).

Any model ``AutoProcessor`` and ``AutoModelForImageTextToText`` load from a local folder (or a
hub id, on a machine with network access). This version is tested with tiny models of the
LLaVA-1.5 and Idefics3 families. The prompt is the family's chat template with the image and
the text. ``image_size`` (longest edge, pixels) is the first-class setting against running out of
memory: images are resized to it before the processor sees them.

LoRA fine-tuning follows SARLANG-1M's recipe by default: rank 8 on every linear layer of the
language model (q/k/v/o and the MLP projections), 3 epochs, learning rate 1e-4, warm-up 10% then
cosine decay, gradient accumulation, bf16 on a GPU. Only the answer tokens are learned. Training
runs through accelerate, so ``accelerate launch --config_file configs/accelerate/multi_gpu.yaml
-m sarlang.cli train --config lora.yaml`` spreads it over several GPUs.
Adapters are saved on their own (peft's ``save_pretrained``); :class:`HFModel` predicts with
base + adapter without merging, and :func:`merge_adapter` writes a merged model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sarlang.errors import InputError
from sarlang.files import atomic_write_json, require
from sarlang.models.base import VisionLanguageModel

LANGUAGE_LINEAR = r".*(language_model|text_model).*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$"


def _require() -> tuple[Any, Any]:
    return require("torch", "hf", "Hugging Face models (torch)"), require("transformers", "hf", "Hugging Face models (transformers)")


# Processors whose video processor needs torchvision; without it they load as image + text only.
_VIDEO_PROCESSORS = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor", "smolvlm": "SmolVLMProcessor"}


def load_processor(path: str | Path) -> Any:
    """``AutoProcessor``, or for Qwen2-VL / Qwen2.5-VL / SmolVLM without torchvision, the same processor without its video part.

    Without torchvision ``AutoProcessor`` cannot build their video processor, and then either fails
    or quietly returns only the tokenizer; images and text need neither video nor torchvision.
    """
    _, transformers = _require()
    try:
        processor = transformers.AutoProcessor.from_pretrained(str(path))
    except (ImportError, AttributeError, OSError, ValueError, TypeError):
        processor = None
    if processor is not None and not isinstance(processor, transformers.PreTrainedTokenizerBase):
        return processor
    try:
        model_type = transformers.AutoConfig.from_pretrained(str(path)).model_type
    except (OSError, ValueError) as exc:
        raise InputError(f"'{path}' is not a Hugging Face vision-language model: {str(exc)[:300]}") from None
    if model_type not in _VIDEO_PROCESSORS:
        raise InputError(f"'{path}' has no image processor (only a tokenizer was found)")
    base_class = getattr(transformers, _VIDEO_PROCESSORS[model_type])

    # transformers passes a processor only the settings named in its __init__'s own arguments
    def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None, image_seq_len: Any = None, chat_template: Any = None, **kwargs: Any) -> None:
        if image_seq_len is not None:
            kwargs["image_seq_len"] = image_seq_len
        base_class.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)
        if model_type == "smolvlm":
            # its chat template reads the video sampling defaults even for image-only conversations
            self.video_processor = SimpleNamespace(num_frames=None, fps=None)

    without_video = type(f"{base_class.__name__}NoVideo", (base_class,), {"__init__": __init__})
    return without_video.from_pretrained(str(path))


def _nested_images(processor: Any) -> bool:
    return type(processor).__name__.startswith(("Idefics", "SmolVLM"))


def _conversation(prompt: str, answer: str | None = None, images: int = 1) -> list[dict[str, Any]]:
    """One user turn showing ``images`` images (a pair's two, earlier first) before the prompt, and the answer when given.

    A prompt with earlier turns (a :class:`~sarlang.formats.prompts.ContextPrompt`) becomes the
    real chat: each earlier question and answer a user and an assistant message, the images in
    the first, retrieved passages before the last question (the layout of the ShareGPT export)."""
    turns = getattr(prompt, "turns", ())
    text = prompt.user_text() if hasattr(prompt, "user_text") else prompt
    messages: list[dict[str, Any]] = []
    for asked, answered in turns:
        messages += [{"role": "user", "content": [*({"type": "image"} for _ in range(images if not messages else 0)), {"type": "text", "text": asked}]},
                     {"role": "assistant", "content": [{"type": "text", "text": answered}]}]
    messages.append({"role": "user", "content": [*({"type": "image"} for _ in range(images if not messages else 0)), {"type": "text", "text": text}]})
    if answer is not None:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return messages


def _shown(image: str | Sequence[str], image_size: int | None) -> list[Any]:
    """The pictures of one prompt: one path, or a pair's paths (earlier first)."""
    return [_load_image(p, image_size) for p in ([image] if isinstance(image, str) else image)]


def _packed(processor: Any, rows: list[list[Any]]) -> list[Any]:
    """Images as the processor takes them: one list per prompt (Idefics3, SmolVLM), or all in order (Qwen2-VL, LLaVA)."""
    return rows if _nested_images(processor) else [image for row in rows for image in row]


def _load_image(path: str, image_size: int | None) -> Any:
    from PIL import Image

    with Image.open(path) as im:
        image = im.convert("RGB")
    if image_size and max(image.size) > image_size:
        image.thumbnail((image_size, image_size))
    return image


class HFModel(VisionLanguageModel):
    """A Hugging Face VLM (optionally with a LoRA adapter) behind sarlang's model interface.
    A bi-temporal pair is shown as two images in one user turn, earlier first (the families
    tested, Qwen2-VL, Qwen2.5-VL, SmolVLM and Idefics3, take several images in a prompt)."""

    images_per_prompt = 2

    def __init__(self, path: str | Path, adapter: str | Path | None = None, image_size: int | None = 448, max_new_tokens: int = 64, device: str | None = None) -> None:
        torch, transformers = _require()
        self.path = str(path)
        self.adapter = str(adapter) if adapter else None
        self.image_size = image_size
        self.max_new_tokens = max_new_tokens
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.processor = load_processor(self.path)
            model = transformers.AutoModelForImageTextToText.from_pretrained(self.path, dtype=torch.bfloat16 if self.device == "cuda" else torch.float32)
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"'{path}' is not a Hugging Face vision-language model: {str(exc)[:300]}") from None
        if self.adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, self.adapter)
        self.model = model.to(self.device).eval()
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # generation continues after the prompt

    def answer(self, batch: Sequence[tuple[Any, str]]) -> list[str]:
        torch, _ = _require()
        rows = [_shown(image, self.image_size) for image, _ in batch]
        texts = [self.processor.apply_chat_template(_conversation(prompt, images=len(row)), add_generation_prompt=True, tokenize=False)
                 for row, (_, prompt) in zip(rows, batch)]
        inputs = self.processor(images=_packed(self.processor, rows), text=texts, padding=True, return_tensors="pt").to(self.device)
        with torch.no_grad():
            output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new = output[:, inputs["input_ids"].shape[1] :]
        return [t.strip() for t in self.processor.batch_decode(new, skip_special_tokens=True)]

    def save(self, directory: str | Path) -> None:
        self.model.save_pretrained(directory)
        self.processor.save_pretrained(directory)

    def info(self) -> dict[str, Any]:
        return {"id": f"hf:{self.path}" + (f"+{self.adapter}" if self.adapter else ""), "image_size": self.image_size,
                "max_new_tokens": self.max_new_tokens, "device": self.device, "do_sample": False}


@dataclass(frozen=True)
class LoraSettings:
    """SARLANG-1M's LoRA recipe (the defaults) and the knobs a user turns."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    epochs: int = 3
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    batch_size: int = 4
    gradient_accumulation: int = 4
    image_size: int = 448
    max_steps: int = 0  # 0: run all epochs
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoraSettings:
        from sarlang.files import check_ranges, checked_settings

        settings = cls(**checked_settings(cls, data, "LoRA setting"))
        check_ranges(settings, "LoRA setting", rank=(1, None), alpha=(-0.0, None), dropout=(0, 0.99), epochs=(1, None),
                     learning_rate=(-0.0, None), warmup_ratio=(0, 1), batch_size=(1, None), gradient_accumulation=(1, None),
                     image_size=(16, None), max_steps=(0, None))
        return settings


def train_lora(
    base: str | Path,
    examples: Sequence[tuple[str, str, str]],
    out_dir: str | Path,
    settings: LoraSettings | None = None,
    on_progress: Callable[[int, int, float], None] | None = None,
) -> Path:
    """Fine-tune a LoRA adapter on (image path, prompt, answer) triples; returns the adapter folder."""
    torch, transformers = _require()
    from peft import LoraConfig, get_peft_model

    from accelerate import Accelerator

    s = settings or LoraSettings()
    torch.manual_seed(s.seed)
    # One process here; several under `accelerate launch` (each takes its share of the examples).
    accelerator = Accelerator(mixed_precision="bf16" if torch.cuda.is_available() else "no")
    device = accelerator.device
    examples = list(examples)[accelerator.process_index :: accelerator.num_processes]
    processor = load_processor(base)
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(base))
    model = get_peft_model(model, LoraConfig(r=s.rank, lora_alpha=s.alpha, lora_dropout=s.dropout, target_modules=LANGUAGE_LINEAR, task_type="CAUSAL_LM"))
    model.train()
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "right"
    steps_per_epoch = math.ceil(len(examples) / (s.batch_size * s.gradient_accumulation))
    total = s.max_steps or steps_per_epoch * s.epochs
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=s.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    warmup = max(1, int(total * s.warmup_ratio))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: (k + 1) / warmup if k < warmup else 0.5 * (1 + math.cos(math.pi * (k - warmup) / max(1, total - warmup))))
    step = 0
    order = list(range(len(examples)))
    generator = torch.Generator().manual_seed(s.seed)
    while step < total:
        order = [order[i] for i in torch.randperm(len(order), generator=generator).tolist()]
        for start in range(0, len(order), s.batch_size * s.gradient_accumulation):
            group = order[start : start + s.batch_size * s.gradient_accumulation]
            optimizer.zero_grad()
            loss_sum = 0.0
            micro = [group[i : i + s.batch_size] for i in range(0, len(group), s.batch_size)]
            for part in micro:
                inputs = _training_batch(processor, [examples[i] for i in part], s.image_size).to(device)
                loss = model(**inputs).loss / len(micro)
                accelerator.backward(loss)
                loss_sum += float(loss.detach())
            optimizer.step()
            scheduler.step()
            step += 1
            if on_progress:
                on_progress(step, total, loss_sum)
            if step >= total:
                break
    out = Path(out_dir)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(out)
        atomic_write_json(out / "sarlang_lora.json", {"base": str(base), "settings": asdict(s), "steps": step})
    accelerator.wait_for_everyone()
    return out


def _training_batch(processor: Any, batch: Sequence[tuple[str, str, str]], image_size: int) -> Any:
    """Processor inputs with labels: prompt and padding masked (-100), answer tokens learned."""
    rows = [_shown(image, image_size) for image, _, _ in batch]
    prompts = [processor.apply_chat_template(_conversation(p, images=len(row)), add_generation_prompt=True, tokenize=False) for row, (_, p, _) in zip(rows, batch)]
    fulls = [processor.apply_chat_template(_conversation(p, a, images=len(row)), tokenize=False) for row, (_, p, a) in zip(rows, batch)]
    packed = _packed(processor, rows)
    inputs = processor(images=packed, text=fulls, padding=True, return_tensors="pt")
    prompt_only = processor(images=packed, text=prompts, padding=True, return_tensors="pt")
    labels = inputs["input_ids"].clone()
    for row in range(labels.shape[0]):
        prompt_len = int(prompt_only["attention_mask"][row].sum())
        labels[row, :prompt_len] = -100
    labels[inputs["attention_mask"] == 0] = -100
    inputs["labels"] = labels
    return inputs


def adapter_base(adapter: str | Path) -> str:
    """The base model an adapter was trained on (sarlang's note, else peft's config)."""
    from sarlang.files import read_settings

    folder = Path(adapter)
    ours = folder / "sarlang_lora.json"
    if not folder.is_dir() or not (ours.exists() or (folder / "adapter_config.json").exists()):
        raise InputError(f"'{folder}' is not a LoRA adapter folder (no sarlang_lora.json or adapter_config.json)",
                         hint="give the 'out' folder of a sarlang train run with model: lora")
    if ours.exists():
        base = read_settings(ours, "adapter note").get("base")
    else:
        base = read_settings(folder / "adapter_config.json", "adapter config").get("base_model_name_or_path")
    if not base:
        raise InputError(f"'{folder}' does not say which base model it adapts", hint="pass the base explicitly")
    return str(base)


def merge_adapter(base: str | Path, adapter: str | Path, out_dir: str | Path) -> Path:
    """Merge a LoRA adapter into its base model and save the result with the base's processor."""
    _, transformers = _require()
    from peft import PeftModel

    if not (Path(adapter) / "adapter_config.json").exists():
        raise InputError(f"'{adapter}' is not a LoRA adapter (no adapter_config.json)")
    model = transformers.AutoModelForImageTextToText.from_pretrained(str(base))
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    out = Path(out_dir)
    merged.save_pretrained(out)
    load_processor(base).save_pretrained(out)
    return out


def claims(spec: str) -> bool:
    """A LoRA adapter folder, or a Hugging Face model folder (a ``config.json`` with ``model_type``)."""
    from sarlang.models.base import read_model_config

    if spec.startswith("api:"):
        return False
    path = Path(spec)
    return (path / "adapter_config.json").is_file() or "model_type" in read_model_config(path)


def load(spec: str) -> HFModel:
    """The model of a folder; an adapter folder loads on its base model (read from the adapter)."""
    path = Path(spec)
    if (path / "adapter_config.json").is_file():
        return HFModel(adapter_base(path), adapter=path)
    return HFModel(path)


def train_job(job: Any, on_progress: Callable[[int, int, float], None] | None = None) -> HFModel:
    """The ``model: lora`` trainer (see :class:`sarlang.models.run.TrainingJob`): a LoRA adapter on ``base:``."""
    if "base" not in job.config:
        raise InputError("a LoRA config needs 'base': the Hugging Face model to adapt")
    lora = LoraSettings.from_dict(job.settings)
    adapter = train_lora(job.config["base"], [*job.examples, *job.pair_examples], job.out, lora, on_progress=on_progress)
    return HFModel(job.config["base"], adapter=adapter, image_size=lora.image_size)
