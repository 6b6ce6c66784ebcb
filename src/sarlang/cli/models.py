"""``sarlang train``, ``predict``, ``merge``: models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sarlang.formats.prompts import VQA_PROMPT
from sarlang.cli.common import EngineOpt, RayActorsOpt, RayAddressOpt, app, check_outputs, console, progress_bar, user_errors
from sarlang.cli.common import examples
from sarlang.vocabulary import counted


@app.command("train", epilog=examples("sarlang train --config train.yaml",
                                note="train.yaml holds, e.g., model: baseline, records: mybench/records.jsonl, out: mybench/model, epochs: 8 (model: clip for SAR-CLIP, model: lora with base: for a Hugging Face VLM)"))
@user_errors
def train_command(
    config: Annotated[Path, typer.Option("--config", help="YAML/JSON training config (see sarlang.models.run).")],
) -> None:
    """Train the built-in SAR vision-language model on a build's records (CPU; resumes from its checkpoint)."""
    from sarlang.models.run import read_config, train_from_config

    settings = read_config(config)
    if "out" in settings:
        check_outputs(folders={"model folder ('out' of the config)": Path(str(settings["out"]))})
    progress = progress_bar("training")
    task_id = progress.add_task("steps", total=None)
    with progress:
        model = train_from_config(settings, on_progress=lambda done, total, loss: progress.update(task_id, completed=done, total=total,
                                                                                       description=f"loss {loss:.3f}"))
    console.print(trained_line(model.info(), settings.get("out")), highlight=False)


def trained_line(info: dict, out: object) -> str:
    """The line ``sarlang train`` ends with, for any kind of model (each reports what it has:
    the built-in model a vocabulary, SAR-CLIP an embedding size and temperature, a LoRA
    adapter its base): the model is saved before this is printed, so it must never fail."""
    facts = []
    if isinstance(info.get("parameters"), int):
        facts.append(f"{info['parameters']:,} parameters")
    for key, name in (("vocabulary", "vocabulary"), ("embed_dim", "embedding size"), ("learned_temperature", "temperature"), ("base", "base")):
        if info.get(key) is not None:
            value = info[key]
            facts.append(f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}")
    return f"trained {info.get('id', 'a model')}" + (f" ({', '.join(facts)})" if facts else "") + f" -> {out}"


@app.command("predict", epilog=examples("sarlang predict --model mybench/model --records mybench/records.jsonl --out mybench/predictions.jsonl",
                                  "sarlang predict --model mybench/model --records mybench/records.jsonl --out mybench/predictions.jsonl --engine ray --ray-address HEAD:6379",
                                  "sarlang predict --model api:Qwen/Qwen2.5-VL-3B-Instruct@http://gpu1:8000/v1,http://gpu2:8000/v1 --records mybench/records.jsonl --out mybench/qwen.jsonl",
                                  "sarlang predict --model mybench/model --records mybench/records.jsonl --out mybench/rag.jsonl --retrieve mybench/knowledge --k 3 --retrieve-by both",
                                  "sarlang predict --model route:routes.yaml --records mybench/records.jsonl --out mybench/routed.jsonl",
                                  note="the second on a Ray cluster, the third over two vLLM servers of one model, the fourth with passages of a knowledge index, the last routed to experts"))
@user_errors
def predict_command(
    model: Annotated[str, typer.Option("--model", help="A model folder (from sarlang train, or a Hugging Face model), api:MODEL@URL (an OpenAI-compatible endpoint; api:MODEL@URL1,URL2,... spreads the requests over several servers of the model), prior:BUILD (the blind prior of a build), blobs:, logratio:, or route:FILE.yaml (experts by application).")],
    records: Annotated[Path, typer.Option("--records", help="Records file (image paths relative to it).")],
    out: Annotated[Path, typer.Option("--out", help="Our predictions JSONL; generated_predictions.jsonl is written next to it.")],
    split: Annotated[str, typer.Option("--split", help="Which records to answer ('all' for every one).")] = "test",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    restart: Annotated[bool, typer.Option("--restart", help="Discard earlier predictions in --out instead of resuming them.")] = False,
    prompt: Annotated[str, typer.Option("--prompt", help="How questions are asked ({q} is the question): the template the model was trained with.")] = VQA_PROMPT,
    retrieve: Annotated[Path | None, typer.Option("--retrieve", help="A knowledge index (sarlang index): each prompt gets its top --k passages before the question.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="Passages per prompt with --retrieve.")] = 3,
    retrieve_by: Annotated[str, typer.Option("--retrieve-by", help="What finds the passages: image (SAR-CLIP), question (MiniLM) or both (reciprocal-rank fusion).")] = "both",
    clip: Annotated[str | None, typer.Option("--clip", help="The index's SAR-CLIP model (default: the one it was built with).")] = None,
    teacher_forcing: Annotated[bool, typer.Option("--teacher-forcing", help="Show a conversation's true earlier answers instead of the model's own.")] = False,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    ray_actors: RayActorsOpt = None,
) -> None:
    """Answer and caption records with a model (resumable: ids already predicted are skipped)."""
    from sarlang.engines import using
    from sarlang.models.base import load_model
    from sarlang.models.run import predict_records

    check_outputs({"--out file": out, "LLaMA-Factory predictions file": out.with_name("generated_predictions.jsonl")})
    from sarlang.models.rag import open_retriever

    retriever = open_retriever(retrieve, k, retrieve_by, clip) if retrieve is not None else None
    loaded = load_model(model)
    progress = progress_bar("predicting")
    task_id = progress.add_task("records", total=None)
    try:
        with using(engine, ray_address, ray_actors), progress:
            result = predict_records(loaded, records, out, None if split == "all" else split, batch_size,
                                     on_progress=lambda done, total: progress.update(task_id, completed=done, total=total),
                                     model_source=model, restart=restart, prompt_template=prompt, teacher_forcing=teacher_forcing,
                                     retriever=retriever)
    finally:
        loaded.close()
    console.print(f"{result['predicted']} predicted ({result['already_done']} already there) -> {result['out']} and {result['llamafactory']}", highlight=False)
    if result.get("conversations"):
        console.print(f"{counted(result['conversations'], 'conversation')} answered turn by turn, with "
                      + ("the true earlier answers (teacher forcing)" if teacher_forcing else "the model's own earlier answers"), highlight=False)
    if retriever is not None:
        console.print(f"each prompt got its top {counted(k, 'passage')} by {retrieve_by} from {retrieve} (ids in 'passages')", highlight=False)
    if result.get("change_maps"):
        from sarlang.models.run import change_map_folder

        console.print(f"{counted(result['change_maps'], 'change map')} -> {change_map_folder(result['out'])}", highlight=False)
    if result.get("pairs_left"):
        console.print(f"[yellow]{counted(result['pairs_left'], 'record')} of bi-temporal pairs left unanswered[/]: this model sees one image "
                      "per prompt (answer them with one that sees two: logratio:, a built-in model trained on pairs)", highlight=False, markup=True)
    if len(result.get("servers", [])) > 1:
        for server in result["servers"]:
            console.print(f"  {server['url']}: {server['answered']} answered, {server['failed_attempts']} failed attempts"
                          + (f" (last: {escape(server['last_failure'][:120])})" if server["last_failure"] else ""), highlight=False)
    if result["failed"]:
        console.print(f"[yellow]{counted(result['failed'], 'record')} got no answer[/] (run the same command again to retry them), e.g.: "
                      + escape("; ".join(result["failures"][:3])), highlight=False, markup=True)


@app.command("merge", epilog=examples("sarlang merge --base Qwen2-VL-2B-Instruct --adapter mybench/lora --out mybench/merged"))
@user_errors
def merge_command(
    adapter: Annotated[Path, typer.Option("--adapter", help="A LoRA adapter folder from sarlang train (model: lora).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the merged model and its processor.")],
    base: Annotated[str | None, typer.Option("--base", help="The base model (default: the one the adapter records).")] = None,
) -> None:
    """Merge a LoRA adapter into its base model."""
    from sarlang.models.hf import adapter_base, merge_adapter

    check_outputs(folders={"--out folder": out})
    merged = merge_adapter(base or adapter_base(adapter), adapter, out)
    console.print(f"merged -> {merged}", highlight=False)

