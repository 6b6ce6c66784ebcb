"""``sarlang index``: the knowledge base of retrieval-augmented answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sarlang.cli.common import app, check_outputs, console, examples, progress_bar, user_errors
from sarlang.errors import InputError
from sarlang.vocabulary import counted


@app.command("index", epilog=examples(
    "sarlang index --records mybench --docs sensors/ --clip mybench/clip --out mybench/knowledge",
    "sarlang index --docs more_sensors/ --out mybench/knowledge --add",
    note="passages: each train image's captions and facts, and every paragraph of the documents; --add embeds only new passages"))
@user_errors
def index_command(
    out: Annotated[Path, typer.Option("--out", help="The index folder (manifest.json, passages.jsonl, text.faiss, image.faiss).")],
    docs: Annotated[list[Path] | None, typer.Option("--docs", help="A folder of .md, .txt or .jsonl documents, repeatable.", show_default=False)] = None,
    records: Annotated[Path | None, typer.Option("--records", help="A build (folder or records file): one passage per image of --split.")] = None,
    split: Annotated[str, typer.Option("--split", help="Which images of --records become passages ('all' for every split).")] = "train",
    clip: Annotated[str | None, typer.Option("--clip", help="A SAR-CLIP model folder to embed the passages' images (retrieval by image); without it, text only.")] = None,
    kind: Annotated[str, typer.Option("--kind", help="auto, flat (exact) or hnsw (approximate; auto takes it from 50,000 passages).")] = "auto",
    add: Annotated[bool, typer.Option("--add", help="Add the new passages to the index in --out instead of building one.")] = False,
) -> None:
    """Build (or extend) a knowledge base: passages embedded with MiniLM and, for images, SAR-CLIP, in a FAISS index."""
    from sarlang.knowledge.index import KnowledgeIndex, text_encoder
    from sarlang.knowledge.passages import build_passages, document_passages
    from sarlang.models.rag import load_image_model
    from sarlang.schema import Reject

    if not docs and records is None:
        raise InputError("nothing to index", hint="give --docs FOLDER and/or --records BUILD")
    exists = (out / "manifest.json").exists()
    if exists and not add:
        raise InputError(f"'{out}' already holds a knowledge index", hint="pass --add to add passages to it, or choose another --out")
    if add and not exists:
        raise InputError(f"'{out}' holds no knowledge index to add to", hint="build one first (without --add)")
    check_outputs(folders={"--out folder": out})
    rejects: list[Reject] = []
    passages = [p for folder in docs or [] for p in document_passages(folder, rejects)]
    if records is not None:
        passages += build_passages(records, None if split == "all" else split)
    index = KnowledgeIndex.load(out) if add else None
    if clip is None and index is not None and index.manifest.get("image_model_source"):
        clip = index.manifest["image_model_source"]
    image_model, identity = load_image_model(clip) if clip else (None, None)
    encode = text_encoder()
    progress = progress_bar("embedding")
    task_id = progress.add_task("passages", total=len(passages))
    update = lambda done, total: progress.update(task_id, completed=done, total=total)  # noqa: E731
    with progress:
        if index is None:
            index = KnowledgeIndex.build(out, passages, encode, image_model, identity, kind, update, image_source=str(Path(clip).resolve()) if clip else "")
            added = len(index.passages)
        else:
            added = index.add(passages, encode, image_model, identity, update)
    console.print(f"{counted(added, 'passage')} {'added' if add else 'indexed'} ({counted(len(index.passages), 'passage')} in all, "
                  f"{counted(len(index.image_rows), 'image')}, {index.manifest['kind']} index) -> {out}", highlight=False)
    if add and added < len(passages):
        console.print(f"{len(passages) - added} already in the index (same ids) were kept as they were", highlight=False)
    for reject in rejects[:5]:
        console.print(f"[yellow]left out[/] {escape(reject.source)}:{reject.row}: {escape(reject.reason)}", highlight=False, markup=True)
