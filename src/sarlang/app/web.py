"""``sarlang serve``: the web demo (gradio, the ``app`` extra), offline.

Upload a SAR raster (GeoTIFF in intensity, amplitude or dB, a complex SLC, PNG/JPEG) or pick one
of a build's images; choose a preprocessing recipe and see the raw image (amplitude, 2nd–98th
percentile stretch) beside the preprocessed one, with the estimated number of looks; caption it
or ask a question with a model (a built-in model folder, a Hugging Face folder, ``api:MODEL@URL``),
SARLANG-1M's seven applications one click away; with a CLIP model, search the build's images
by text. A file that cannot be read, one over the size limit, a model that fails: a message in
the page, never a stack trace, and the server keeps running (the trace goes to the server log).

The page loads nothing from the internet: system fonts, no analytics.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError, SarlangError

LOG = logging.getLogger("sarlang")

#: Largest upload, megabytes.
MAX_UPLOAD_MB = 200.0
#: Largest raster the page previews, pixels (larger scenes: ``sarlang preprocess`` and tiles).
MAX_PIXELS = 64_000_000
#: Units a raster's values may be declared in (``auto``: as its metadata or file type says).
UNIT_CHOICES = ("auto", "intensity", "amplitude", "db")
#: One example question per SARLANG-1M application (``{box}``: the image's central quarter, x, y, w, h pixels).
EXAMPLE_QUESTIONS = {
    "image_description": "",
    "object_identification": "Is there a ship in the image?",
    "object_classification": "What is the predominant category in the image?",
    "instance_counting": "How many ships are there in the image?",
    "region_referring": "What is the category of the object in the region {box}?",
    "object_positioning": "Where is the ship located in the image?",
    "others": "What is the dominant land cover in the image?",
}


@dataclass
class Preview:
    """A raster read and preprocessed: the raw view and the preprocessed picture (uint8), the
    preprocessed picture's PNG (what the model reads) and what was found (size, units, looks)."""

    raw: np.ndarray
    processed: np.ndarray
    path: str
    info: dict[str, Any]


def preview_raster(path: str | Path, recipe: str = "sarlang", units: str = "auto", out_dir: str | Path | None = None,
                   max_mb: float = MAX_UPLOAD_MB) -> Preview:
    """Read a raster, preprocess it with ``recipe`` and write the picture the model reads.

    Raises:
        InputError: a file over ``max_mb`` or :data:`MAX_PIXELS`, one that cannot be read, or a
            recipe that cannot be applied to it.
    """
    from sarlang.sar.filters import estimate_enl
    from sarlang.files import PICTURE_SUFFIXES
    from sarlang.sar.io import raster_header, read_sar, write_png
    from sarlang.sar.recipes import apply_recipe, load_recipe
    from sarlang.sar.scaling import to_intensity

    p = Path(path)
    if not p.is_file():
        raise InputError(f"'{p.name}' is not a file")
    size_mb = p.stat().st_size / 1e6
    if size_mb > max_mb:
        raise InputError(f"'{p.name}' is {size_mb:.0f} MB, over this server's limit of {max_mb:.0f} MB",
                         hint="preprocess large scenes with sarlang preprocess, or cut them into tiles")
    if p.suffix.lower() not in PICTURE_SUFFIXES:
        rows, columns, _, _ = raster_header(p)
        if rows * columns > MAX_PIXELS:
            raise InputError(f"'{p.name}' is {columns} x {rows} pixels, more than this page previews ({MAX_PIXELS / 1e6:.0f} MP)",
                             hint="preprocess large scenes with sarlang preprocess, or cut them into tiles")
    image = read_sar(p, units=None if units == "auto" else units)
    try:
        processed, resolved = apply_recipe(image, load_recipe(recipe))
        raw, _ = apply_recipe(image, load_recipe("percentile"))
    except InputError:
        raise
    except SarlangError as exc:
        raise InputError(f"'{p.name}' cannot be preprocessed with recipe '{recipe}': {exc.message}") from None
    looks = resolved.get("looks_estimated")
    if looks is None and image.units != "display8" and min(image.shape) >= 16:
        looks = estimate_enl(to_intensity(image).data)
    folder = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="sarlang-serve-"))
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{p.stem}.{recipe}.png"
    write_png(png, processed)
    info = {"file": p.name, "width": int(image.shape[1]), "height": int(image.shape[0]), "units": image.units, "recipe": recipe,
            "looks": None if looks is None else float(looks), "stretch_limits": resolved.get("stretch_limits"),
            "stretch_units": resolved.get("stretch_units")}
    return Preview(raw, processed, str(png), info)


def describe_preview(info: dict[str, Any]) -> str:
    """One line of Markdown about a preview: size, units, looks, stretch."""
    looks = "not estimated (an 8-bit picture)" if info.get("looks") is None else f"{info['looks']:.2f}"
    limits = info.get("stretch_limits")
    stretch = "" if not limits else f"; stretched {limits[0]:.4g}..{limits[1]:.4g} ({info.get('stretch_units')})"
    return f"**{info['file']}**: {info['width']} x {info['height']} pixels, read as {info['units']}; estimated looks {looks}{stretch}."


def example_question(application: str, width: int, height: int) -> str:
    """The example question of an application for an image of width x height pixels."""
    box = f"[{width / 4:.1f}, {height / 4:.1f}, {width / 2:.1f}, {height / 2:.1f}]"
    return EXAMPLE_QUESTIONS[application].format(box=box)


@dataclass
class Models:
    """Models by spec, loaded on first use and kept (one process serves many questions)."""

    loaded: dict[str, Any] = field(default_factory=dict)

    def get(self, spec: str) -> Any:
        from sarlang.models.base import load_model

        spec = spec.strip()
        if not spec:
            raise InputError("no model given", hint="a built-in model folder, a Hugging Face folder, or api:MODEL@URL")
        if spec not in self.loaded:
            self.loaded[spec] = load_model(spec)
        return self.loaded[spec]


def ask(model: Any, image: str, question: str) -> tuple[str, float]:
    """The model's answer to ``question`` about the picture at ``image`` (a caption when the
    question is empty), with the seconds it took. The prompt is the one ``sarlang predict`` uses."""
    from sarlang.formats.prompts import CAPTION_PROMPT, prompt_for
    from sarlang.schema import Record

    if not hasattr(model, "answer"):
        raise InputError("this model does not answer questions (an embedding model?)", hint="give a VLM, or use it for search")
    text = question.strip()
    prompt = CAPTION_PROMPT if not text else prompt_for(Record("q", image, "others", text, "-"))
    started = time.perf_counter()
    answer = model.answer([(image, prompt)])[0]
    return answer, time.perf_counter() - started


@dataclass
class ImageSearch:
    """Text-to-image search over a set of pictures with a CLIP model (image vectors computed once)."""

    model: Any
    images: list[str]
    vectors: np.ndarray | None = None

    def search(self, text: str, k: int = 8) -> list[tuple[str, float]]:
        """The ``k`` pictures most similar to ``text``, with their cosine similarity."""
        if not text.strip():
            raise InputError("type what to search for")
        if self.vectors is None:
            self.vectors = self.model.embed_images(self.images)
        query = self.model.embed_texts([text.strip()])[0]
        scores = self.vectors @ query
        order = np.argsort(-scores)[:k]
        return [(self.images[i], float(scores[i])) for i in order]


def build_images(build: str | Path | None, split: str | None = "test") -> list[str]:
    """The images of a build's records (of ``split``; all when it has none), as resolved paths in record order."""
    if build is None:
        return []
    from sarlang.formats.records import load_records

    path = Path(build)
    records, _ = load_records(path)
    base = path if path.is_dir() else path.parent
    chosen = [r for r in records if split is None or r.split == split] or records
    return list(dict.fromkeys(str((base / r.image).resolve()) for r in chosen))


def guarded(action: Callable[..., Any], failure: Callable[[str], Any]) -> Callable[..., Any]:
    """``action`` for a page callback: a user's mistake (:class:`SarlangError`) becomes
    ``failure(message)``; anything else too, with the trace in the server log, never in the page."""
    import functools

    @functools.wraps(action)
    def run(*args: Any) -> Any:
        try:
            return action(*args)
        except SarlangError as exc:
            return failure(str(exc))
        except Exception as exc:  # a model or library failing must not take the server down
            LOG.exception("sarlang serve: %s failed", action.__name__)
            return failure(f"{type(exc).__name__}: {exc}")

    return run


def offline_theme() -> Any:
    """gradio's default theme with system fonts (its own fetches Google Fonts)."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "Segoe UI", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def make_app(model: str | None = None, clip: str | None = None, build: str | Path | None = None, max_mb: float = MAX_UPLOAD_MB) -> Any:
    """The gradio Blocks of the web demo (see the module docstring)."""
    from sarlang.files import require
    from sarlang.sar.recipes import BUILTIN_RECIPES

    gr = require("gradio", "app", "the web demo (gradio)")
    models = Models()
    pictures = build_images(build)
    searcher = ImageSearch(models.get(clip), build_images(build, None)) if clip and build else None
    work = Path(tempfile.mkdtemp(prefix="sarlang-serve-"))

    def show(upload: str | None, picked: str | None, recipe: str, units: str) -> tuple[Any, Any, str, Any, str]:
        source = upload or picked
        if not source:
            return None, None, "", None, "Upload a SAR raster or pick one of the build's images."
        found = preview_raster(source, recipe, units, work, max_mb)
        return found.raw, found.processed, describe_preview(found.info), found.info | {"path": found.path}, ""

    def show_failed(message: str) -> tuple[Any, Any, str, Any, str]:
        return None, None, "", None, f"⚠️ {message}"

    def answer(spec: str, state: dict | None, question: str) -> tuple[str, str]:
        if not state:
            raise InputError("there is no image yet: upload one or pick one first")
        text, seconds = ask(models.get(spec), state["path"], question)
        return text, f"answered by `{spec.strip()}` in {seconds:.2f} s"

    def find(text: str) -> tuple[list, str]:
        assert searcher is not None
        hits = searcher.search(text)
        return [(path, f"{Path(path).name} ({score:.3f})") for path, score in hits], f"{len(hits)} images most like “{text.strip()}”"

    with gr.Blocks(title="sarlang — SAR vision-language demo", analytics_enabled=False) as demo:
        gr.Markdown("# sarlang — SAR vision-language demo\nUpload a SAR raster or pick one of the build's images, choose a recipe, then ask.")
        state = gr.State(None)
        with gr.Row():
            upload = gr.File(label=f"SAR raster (GeoTIFF, complex SLC, PNG/JPEG; at most {max_mb:.0f} MB)", type="filepath", elem_id="upload")
            picked = gr.Dropdown(choices=pictures, value=None, label="or one of the build's images", elem_id="pick", visible=bool(pictures))
            with gr.Column():
                recipe = gr.Dropdown(choices=list(BUILTIN_RECIPES), value="sarlang", label="preprocessing recipe", elem_id="recipe")
                units = gr.Dropdown(choices=list(UNIT_CHOICES), value="auto", label="pixel values are", elem_id="units")
        with gr.Row():
            raw = gr.Image(label="raw (amplitude, 2–98 % stretch)", type="numpy", interactive=False, elem_id="raw",
                           buttons=["fullscreen", "download"])
            processed = gr.Image(label="preprocessed (what the model reads)", type="numpy", interactive=False, elem_id="processed",
                                 buttons=["fullscreen", "download"])
        info = gr.Markdown(elem_id="info")
        status = gr.Markdown(elem_id="status")
        spec = gr.Textbox(value=model or "", label="model (built-in folder, Hugging Face folder, api:MODEL@URL)", elem_id="model")
        question = gr.Textbox(label="question (empty: a caption)", elem_id="question")
        with gr.Row():
            buttons = {application: gr.Button(application.replace("_", " "), size="sm", elem_id=f"example-{application}")
                       for application in EXAMPLE_QUESTIONS}
        ask_button = gr.Button("Ask", variant="primary", elem_id="ask")
        reply = gr.Textbox(label="answer", interactive=False, elem_id="answer")
        timing = gr.Markdown(elem_id="timing")
        if searcher is not None:
            gr.Markdown("## Search the build's images by text")
            query = gr.Textbox(label="search text", elem_id="search")
            hits = gr.Gallery(label="most similar images", columns=4, elem_id="hits")
            found = gr.Markdown(elem_id="found")
            query.submit(guarded(find, lambda m: ([], f"⚠️ {m}")), [query], [hits, found])

        inputs = [upload, picked, recipe, units]
        outputs = [raw, processed, info, state, status]
        for component in (upload, picked, recipe, units):
            component.change(guarded(show, show_failed), inputs, outputs)
        for application, button in buttons.items():
            button.click(lambda s, a=application: example_question(a, s["width"], s["height"]) if s else example_question(a, 512, 512), [state], [question])
        ask_button.click(guarded(answer, lambda m: ("", f"⚠️ {m}")), [spec, state, question], [reply, timing])
        question.submit(guarded(answer, lambda m: ("", f"⚠️ {m}")), [spec, state, question], [reply, timing])
    return demo
