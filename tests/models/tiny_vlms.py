"""Tiny randomly initialised vision-language models of real Hugging Face families, built offline.

Following ../shared/notes/tiny-hf-vlms.md: a byte-level BPE tokenizer trained on a few SAR
sentences, the family's image processor from defaults with small sizes, a chat template, and a
config with two tiny text layers; saved with ``save_pretrained`` so tests go through the real
``from_pretrained`` path. Their text is garbage: they test the wiring, not the answers.
"""

from __future__ import annotations

from pathlib import Path

SENTENCES = [
    "Describe the content of this image in one sentence.",
    "Question: How many ships are there in the image?. Answer the question concisely.",
    "A SAR image of water showing two ships and one harbor.",
    "Is there a bridge in the image? yes no 1 2 3 4 5",
    "There are three ships in the top part of the image.",
    "Which category of object appears most often in the image? ship aircraft car tank",
]


def _tokenizer(specials: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    base = ["<unk>", "<s>", "</s>", "<pad>"]
    core.train_from_iterator(SENTENCES * 4, trainers.BpeTrainer(vocab_size=300, special_tokens=base, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    tok.add_special_tokens({"additional_special_tokens": specials})
    tok.padding_side = "left"
    return tok


def _llama(tok) -> dict:
    return dict(model_type="llama", vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=512, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id, tie_word_embeddings=False)


LLAVA_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image>\n"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %} {% else %}ASSISTANT: {% for c in m['content'] %}{{ c['text'] }}{% endfor %}</s>"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
IDEFICS_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}User:{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}<end_of_utterance>\n{% else %}Assistant: {% for c in m['content'] %}{{ c['text'] }}{% endfor %}"
    "<end_of_utterance>\n{% endif %}{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}"
)


def tiny_llava(directory: Path) -> Path:
    import torch
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    torch.manual_seed(0)
    tok = _tokenizer(["<image>"])
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8),
        text_config=LlamaConfig(**{k: v for k, v in _llama(tok).items() if k != "model_type"}),
        image_token_id=tok.convert_tokens_to_ids("<image>"), image_seq_length=16, vision_feature_select_strategy="default", vision_feature_layer=-2,
    )
    model = LlavaForConditionalGeneration(config)
    processor = LlavaProcessor(CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}), tok, patch_size=8,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1, image_token="<image>", chat_template=LLAVA_TEMPLATE)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def _tiny_idefics(directory: Path, config_class, model_class, image_processor_class, processor_class) -> Path:
    import torch

    torch.manual_seed(0)
    specials = ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    tok = _tokenizer(specials)
    config = config_class(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=8),
        text_config=_llama(tok), image_token_id=tok.convert_tokens_to_ids("<image>"), scale_factor=2,
    )
    model = model_class(config)
    processor = processor_class(image_processor_class(size={"longest_edge": 32}, max_image_size={"longest_edge": 32}, do_image_splitting=False),
                                tok, image_seq_len=4, chat_template=IDEFICS_TEMPLATE)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def tiny_idefics3(directory: Path) -> Path:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessorPil, Idefics3Processor

    return _tiny_idefics(directory, Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessorPil, Idefics3Processor)


def tiny_smolvlm(directory: Path) -> Path:
    """SmolVLM (the Idefics3 architecture with its own processor); saved without a video processor."""
    from types import SimpleNamespace

    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessorPil, SmolVLMProcessor

    class SmolVLMProcessorNoVideo(SmolVLMProcessor):
        def __init__(self, image_processor=None, tokenizer=None, image_seq_len=169, chat_template=None, **kwargs):
            # image_seq_len in the signature so that save_pretrained writes it (it saves the __init__ parameters)
            super().__init__(image_processor, tokenizer, None, image_seq_len=image_seq_len, chat_template=chat_template, **kwargs)
            self.video_processor = SimpleNamespace(num_frames=None, fps=None)

    return _tiny_idefics(directory, SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessorPil, SmolVLMProcessorNoVideo)


QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tiny_qwen(directory: Path, config_class, model_class, processor_class, vision_config: dict) -> Path:
    """A Qwen-VL family model; its processor is saved without a video processor (torchvision is not installed here)."""
    import torch
    from transformers import Qwen2VLImageProcessorPil

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        processor_class.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    without_video = type(f"{processor_class.__name__}NoVideo", (processor_class,), {"__init__": __init__})
    torch.manual_seed(0)
    specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok = _tokenizer(specials)
    ids = {t: tok.convert_tokens_to_ids(t) for t in specials}
    config = config_class(
        text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [2, 3, 3]},
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id),
        vision_config=vision_config, image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    model = model_class(config)
    processor = without_video(Qwen2VLImageProcessorPil(size={"shortest_edge": 56 * 56, "longest_edge": 112 * 112}), tok, chat_template=QWEN_TEMPLATE)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def tiny_qwen2_vl(directory: Path) -> Path:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    return _tiny_qwen(directory, Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor,
                      dict(depth=1, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2))


def tiny_qwen2_5_vl(directory: Path) -> Path:
    """Qwen2.5-VL: window attention in the vision tower, whose output width is the text width."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor

    return _tiny_qwen(directory, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                      dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=14, window_size=56,
                           fullatt_block_indexes=[1]))
