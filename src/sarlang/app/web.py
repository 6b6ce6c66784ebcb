"""``sarlang serve``: the web demo (gradio, the ``app`` extra), offline.

Upload a SAR raster (GeoTIFF in intensity, amplitude or dB, a complex SLC, PNG/JPEG) or pick one
of a build's images; choose a preprocessing recipe and see the raw image (amplitude, 2nd–98th
percentile stretch) beside the preprocessed one, with the estimated number of looks; caption it
or ask a question with a model (a built-in model folder, a Hugging Face folder, ``api:MODEL@URL``),
SARLANG-1M's seven applications one click away; with a CLIP model, search the build's images
by text. A file that cannot be read, one over the size limit, a model that fails: a message in
the page, never a stack trace, and the server keeps running (the trace goes to the server log).

What a visitor may do is what the operator started the server with: the page asks only the
models named on the command line (a visitor cannot name another model, nor an ``api:`` URL that
would receive the upload and the server's API key), and it serves only the pictures it shows
(never the build's folder: its records are the questionnaire's ground truth), named relative to
the build, with no path of the server in the page. Every text a visitor or a model supplies is
shown as text, never as Markdown or HTML.

The page loads nothing from the internet: system fonts, no analytics.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError, SarlangError
from sarlang.vocabulary import counted

LOG = logging.getLogger("sarlang")

#: Largest upload, megabytes.
MAX_UPLOAD_MB = 200.0
#: Largest raster the page previews, pixels (larger scenes: ``sarlang preprocess`` and tiles).
MAX_PIXELS = 64_000_000
#: Preprocessed pictures kept for the models to read; the oldest go first.
KEPT_PICTURES = 512
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

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")  # > and < become entities below
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])/(?:[^\s'\"/:]+/)+([^\s'\"/]*)")


def as_markdown_text(text: str) -> str:
    """``text`` (a file name, a question, a model's or a visitor's words) for a Markdown
    component, shown as it is: Markdown syntax escaped, HTML's ``<``, ``>`` and ``&`` as entities."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def without_server_paths(message: str) -> str:
    """A message for the page with every absolute path of the server cut to its last part."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "", message)


@dataclass
class Preview:
    """A raster read and preprocessed: the raw view and the preprocessed picture (uint8), the
    preprocessed picture's PNG (what the model reads) and what was found (size, units, looks)."""

    raw: np.ndarray
    processed: np.ndarray
    path: str
    info: dict[str, Any]


def _digest(path: Path, *settings: str) -> str:
    sha = hashlib.sha256("\0".join(settings).encode("utf-8"))
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:24]


def picture_file(pixels: Any, folder: str | Path) -> str:
    """A picture (uint8 array or PIL image) as a PNG in ``folder`` named by its pixels, written
    once and atomically, for a page to show by path.

    The page hands gradio files, not arrays: gradio writes an array or PIL image it is given to
    a cache file named by its content, again on every request, so a visitor fetching that file
    while another visitor's request rewrites it gets it cut (seen with two participants shown
    the same picture at once); a file path is copied into the cache once, atomically.
    """
    from sarlang.sar.io import write_png

    array = np.ascontiguousarray(np.asarray(pixels.convert("RGB")) if hasattr(pixels, "convert") else pixels, dtype=np.uint8)
    digest = hashlib.sha256(str(array.shape).encode() + array.tobytes()).hexdigest()[:24]
    path = Path(folder) / f"shown-{digest}.png"
    if not path.exists():
        write_png(path, array)
    return str(path)


def _keep_newest(folder: Path, kept: int) -> None:
    pictures = []
    for p in folder.glob("*.png"):
        try:
            pictures.append((p.stat().st_mtime, p))
        except OSError:  # removed by another request meanwhile
            pass
    for _, old in sorted(pictures)[: max(0, len(pictures) - kept)]:
        old.unlink(missing_ok=True)


def preview_raster(path: str | Path, recipe: str = "sarlang", units: str = "auto", out_dir: str | Path | None = None,
                   max_mb: float = MAX_UPLOAD_MB, name: str | None = None) -> Preview:
    """Read a raster, preprocess it with ``recipe`` and write the picture the model reads.

    The picture's file is named by the content of the raster and the settings, so two visitors
    never share a file unless they sent the same raster with the same settings. ``name`` is
    what the page calls the raster (default: its file name).

    Raises:
        InputError: a file over ``max_mb`` or :data:`MAX_PIXELS`, one that cannot be read, or a
            recipe that cannot be applied to it.
    """
    from sarlang.sar.filters import estimate_looks
    from sarlang.files import PICTURE_SUFFIXES
    from sarlang.sar.io import raster_header, read_sar, write_png
    from sarlang.sar.recipes import apply_recipe, load_recipe
    from sarlang.sar.scaling import to_intensity

    p = Path(path)
    shown_as = name or p.name
    if not p.is_file():
        raise InputError(f"'{shown_as}' is not a file")
    size_mb = p.stat().st_size / 1e6
    if size_mb > max_mb:
        raise InputError(f"'{shown_as}' is {size_mb:.0f} MB, over this server's limit of {max_mb:.0f} MB",
                         hint="preprocess large scenes with sarlang preprocess, or cut them into tiles")
    if p.suffix.lower() not in PICTURE_SUFFIXES:
        rows, columns, _, _ = raster_header(p)
        if rows * columns > MAX_PIXELS:
            raise InputError(f"'{shown_as}' is {columns} x {rows} pixels, more than this page previews ({MAX_PIXELS / 1e6:.0f} MP)",
                             hint="preprocess large scenes with sarlang preprocess, or cut them into tiles")
    image = read_sar(p, units=None if units == "auto" else units)
    try:
        processed, resolved = apply_recipe(image, load_recipe(recipe))
        raw, _ = apply_recipe(image, load_recipe("percentile"))
    except InputError:
        raise
    except SarlangError as exc:
        raise InputError(f"'{shown_as}' cannot be preprocessed with recipe '{recipe}': {exc.message}") from None
    looks, looks_rule = resolved.get("looks_estimated"), resolved.get("looks_rule")
    if looks is None and image.units != "display8":
        found = estimate_looks(to_intensity(image).data)
        looks, looks_rule = found.looks, found.rule
    folder = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="sarlang-serve-"))
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{_digest(p, recipe, units)}.png"
    write_png(png, processed)
    _keep_newest(folder, KEPT_PICTURES)
    info = {"file": shown_as, "width": int(image.shape[1]), "height": int(image.shape[0]), "units": image.units, "recipe": recipe,
            "looks": None if looks is None else float(looks), "looks_rule": looks_rule, "stretch_limits": resolved.get("stretch_limits"),
            "stretch_units": resolved.get("stretch_units")}
    return Preview(raw, processed, str(png), info)


def describe_preview(info: dict[str, Any]) -> str:
    """One line of Markdown about a preview: size, units, looks (and how they were found), stretch."""
    if info.get("looks") is None:
        looks = "not estimated (an 8-bit picture)"
    else:
        looks = f"{info['looks']:.2f}"
        if info.get("looks_rule") and info["looks_rule"] != "homogeneous blocks":
            looks += f" ({as_markdown_text(info['looks_rule'])})"
    limits = info.get("stretch_limits")
    stretch = "" if not limits else f"; stretched {limits[0]:.4g}..{limits[1]:.4g} ({info.get('stretch_units')})"
    return (f"**{as_markdown_text(info['file'])}**: {info['width']} x {info['height']} pixels, read as {info['units']}; "
            f"estimated looks {looks}{stretch}.")


def example_question(application: str, width: int, height: int) -> str:
    """The example question of an application for an image of width x height pixels."""
    box = f"[{width / 4:.1f}, {height / 4:.1f}, {width / 2:.1f}, {height / 2:.1f}]"
    return EXAMPLE_QUESTIONS[application].format(box=box)


def model_names(specs: Sequence[str]) -> dict[str, str]:
    """What the page calls each model spec the operator named, in order: a folder by its name,
    ``api:MODEL@URL`` as ``api:MODEL``, anything else as it is; a repeated name gets a number."""
    names: dict[str, str] = {}
    for spec in specs:
        spec = spec.strip()
        if not spec or spec in names.values():
            continue
        if spec.startswith("api:"):
            name = spec.split("@", 1)[0]
        elif Path(spec).exists():
            name = Path(spec).resolve().name or spec
        else:
            name = spec
        base, k = name, 2
        while name in names:
            name, k = f"{base} ({k})", k + 1
        names[name] = spec
    return names


@dataclass
class Models:
    """Models by spec, loaded on first use and kept (one process serves many questions).

    ``allowed`` maps the names the page may ask for to their specs; a name outside it is
    refused. Without it (a Python caller's own use) any spec loads.
    """

    allowed: dict[str, str] | None = None
    loaded: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        from sarlang.models.base import load_model

        name = (name or "").strip()
        if not name:
            raise InputError("no model given", hint="a built-in model folder, a Hugging Face folder, or api:MODEL@URL")
        if self.allowed is not None:
            if name not in self.allowed:
                raise InputError("this page asks only the models its server was started with",
                                 hint="choose one of the list (the operator adds others with --model)")
            name = self.allowed[name]
        if name not in self.loaded:
            self.loaded[name] = load_model(name)
        return self.loaded[name]


def ask(model: Any, image: str, question: str) -> tuple[str, float]:
    """The model's answer to ``question`` about the picture at ``image`` (a caption when the
    question is empty), with the seconds it took. The prompt is the one ``sarlang predict`` uses.

    Raises:
        SarlangError: the model gave no answer (an API model whose requests all failed), with its reason.
    """
    from sarlang.formats.prompts import CAPTION_PROMPT, prompt_for
    from sarlang.schema import Record

    if not hasattr(model, "answer"):
        raise InputError("this model does not answer questions (an embedding model?)", hint="give a VLM, or use it for search")
    text = question.strip()
    prompt = CAPTION_PROMPT if not text else prompt_for(Record("q", image, "others", text, "-"))
    started = time.perf_counter()
    answer = model.answer([(image, prompt)])[0]
    if answer is None:
        failures = getattr(model, "failures", None) or ["it did not say why"]
        raise SarlangError(f"the model gave no answer after {time.perf_counter() - started:.0f} s: {failures[-1]}")
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


def build_pictures(build: str | Path | None, split: str | None = "test") -> dict[str, str]:
    """The images of a build's records (of ``split``; all when it has none), by their path
    relative to the build (what the page shows) to their resolved path, in record order."""
    if build is None:
        return {}
    from sarlang.formats.records import load_records

    path = Path(build)
    records, _ = load_records(path)
    base = path if path.is_dir() else path.parent
    chosen = [r for r in records if split is None or r.split == split] or records
    return {r.image: str((base / r.image).resolve()) for r in chosen}


def build_images(build: str | Path | None, split: str | None = "test") -> list[str]:
    """The images of a build's records (of ``split``; all when it has none), as resolved paths in record order."""
    return list(dict.fromkeys(build_pictures(build, split).values()))


def guarded(action: Callable[..., Any], failure: Callable[[str], Any]) -> Callable[..., Any]:
    """``action`` for a page callback: a user's mistake (:class:`SarlangError`) becomes
    ``failure(message)``; anything else too, with the trace in the server log, never in the page.
    The message the page gets holds no absolute path of the server."""
    import functools

    @functools.wraps(action)
    def run(*args: Any) -> Any:
        try:
            return action(*args)
        except SarlangError as exc:
            return failure(without_server_paths(str(exc)))
        except Exception as exc:  # a model or library failing must not take the server down
            LOG.exception("sarlang serve: %s failed", action.__name__)
            return failure(without_server_paths(f"{type(exc).__name__}: {exc}"))

    return run


def offline_theme() -> Any:
    """gradio's default theme with system fonts (its own fetches Google Fonts)."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "Segoe UI", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def launch(page: Any, host: str = "127.0.0.1", port: int = 7860, max_mb: float = MAX_UPLOAD_MB, block: bool = True,
           on_ready: Callable[[str], None] | None = None) -> str:
    """Serve a page of this module or :mod:`sarlang.app.human` on ``host``:``port``, as ``sarlang
    serve`` does: uploads up to ``max_mb`` megabytes, no folder of the server served (the page's
    pictures are handed over as pixels), no error details, no share link, system fonts.

    With ``block`` (the command) it serves until SIGTERM or SIGINT (Ctrl+C), then closes the
    server and removes the page's working files; ``block=False`` returns at once (tests,
    notebooks: ``page.close()`` stops it). ``on_ready(url)`` is called once the page answers.
    Returns the page's URL.

    Raises:
        InputError: the port is taken or cannot be bound.
    """
    import signal
    import threading

    try:
        page.queue().launch(server_name=host, server_port=port, max_file_size=int(max_mb * 1_000_000), allowed_paths=[],
                            show_error=False, quiet=True, theme=offline_theme(), footer_links=[], prevent_thread_lock=True,
                            share=False)
    except OSError as exc:
        raise InputError(f"cannot serve on {host}:{port}: {exc}", hint="choose another --port, or stop what uses it") from None
    url = f"http://{host}:{port}/"
    if on_ready is not None:
        on_ready(url)
    if not block:
        return url
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        page.close()
        for cleanup in getattr(page, "sarlang_cleanup", []):
            cleanup()
    return url


def make_app(model: str | Sequence[str] | None = None, clip: str | None = None, build: str | Path | None = None,
             max_mb: float = MAX_UPLOAD_MB) -> Any:
    """The gradio Blocks of the web demo (see the module docstring). ``model``: the spec, or the
    specs, the page may ask (the first is chosen when the page opens)."""
    from sarlang.files import require
    from sarlang.sar.recipes import BUILTIN_RECIPES

    gr = require("gradio", "app", "the web demo (gradio)")
    specs = [model] if isinstance(model, str) else list(model or [])
    names = model_names(specs)
    models = Models(allowed=names)
    pictures = build_pictures(build)
    searchable = build_pictures(build, None)
    shown_names = {path: name for name, path in searchable.items()}
    searcher = ImageSearch(Models().get(clip), list(dict.fromkeys(searchable.values()))) if clip and build else None
    work = Path(tempfile.mkdtemp(prefix="sarlang-serve-"))

    def show(upload: str | None, picked: str | None, recipe: str, units: str) -> tuple[Any, Any, str, Any, str]:
        if upload:
            source, name = upload, Path(upload).name
        elif picked:
            if picked not in pictures:
                raise InputError("pick one of the build's images from the list")
            source, name = pictures[picked], picked
        else:
            return None, None, "", None, "Upload a SAR raster or pick one of the build's images."
        found = preview_raster(source, recipe, units, work, max_mb, name=name)
        shown = (picture_file(found.raw, work), picture_file(found.processed, work))
        _keep_newest(work, KEPT_PICTURES)
        return *shown, describe_preview(found.info), found.info | {"path": found.path}, ""

    def show_failed(message: str) -> tuple[Any, Any, str, Any, str]:
        return None, None, "", None, f"⚠️ {as_markdown_text(message)}"

    def answer(name: str, state: dict | None, question: str) -> tuple[str, str]:
        if not state:
            raise InputError("there is no image yet: upload one or pick one first")
        text, seconds = ask(models.get(name), state["path"], question)
        return text, f"answered by {as_markdown_text(name.strip())} in {seconds:.2f} s"

    def find(text: str) -> tuple[list, str]:
        from PIL import Image

        assert searcher is not None
        hits = searcher.search(text)
        gallery = []
        for path, score in hits:
            with Image.open(path) as picture:
                gallery.append((picture_file(picture, work), f"{shown_names.get(path, Path(path).name)} ({score:.3f})"))
        return gallery, f"{counted(len(hits), 'image')} most like “{as_markdown_text(text.strip())}”"

    with gr.Blocks(title="sarlang — SAR vision-language demo", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown("# sarlang — SAR vision-language demo\nUpload a SAR raster or pick one of the build's images, choose a recipe, then ask.")
        state = gr.State(None, time_to_live=3600)
        with gr.Row():
            upload = gr.File(label=f"SAR raster (GeoTIFF, complex SLC, PNG/JPEG; at most {max_mb:.0f} MB)", type="filepath", elem_id="upload")
            picked = gr.Dropdown(choices=list(pictures), value=None, label="or one of the build's images", elem_id="pick", visible=bool(pictures),
                                 allow_custom_value=True)  # show() refuses anything else, with a message
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
        spec = gr.Dropdown(choices=list(names), value=next(iter(names), None), label="model (as the server was started: --model)",
                           elem_id="model", allow_custom_value=True)  # Models refuses the rest, with a message instead of gradio's trace
        if not names:
            gr.Markdown("No model to ask: the server was started without `--model`.", elem_id="nomodel")
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
            query.submit(guarded(find, lambda m: ([], f"⚠️ {as_markdown_text(m)}")), [query], [hits, found], api_name="search")
        import shutil

        demo.sarlang_cleanup = [lambda: shutil.rmtree(work, ignore_errors=True)]

        inputs = [upload, picked, recipe, units]
        outputs = [raw, processed, info, state, status]
        # the named events are the page's API (what a client such as gradio_client calls)
        for component in (upload, picked, recipe, units):
            component.change(guarded(show, show_failed), inputs, outputs, api_name="preview" if component is upload else False)
        for application, button in buttons.items():
            button.click(lambda s, a=application: example_question(a, s["width"], s["height"]) if s else example_question(a, 512, 512), [state], [question],
                         api_name=False)
        ask_button.click(guarded(answer, lambda m: ("", f"⚠️ {as_markdown_text(m)}")), [spec, state, question], [reply, timing], api_name="ask")
        question.submit(guarded(answer, lambda m: ("", f"⚠️ {as_markdown_text(m)}")), [spec, state, question], [reply, timing], api_name=False)
    return demo
