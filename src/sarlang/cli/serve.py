"""``sarlang serve``: the web demo, or the human-baseline questionnaire (:mod:`sarlang.app`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sarlang.cli.common import app, examples, console, user_errors
from sarlang.errors import InputError


@app.command(
    "serve",
    epilog=examples("sarlang serve --model demo_out/model --clip demo_out/clip --build demo_out/build",
                    "sarlang serve --model demo_out/model --model api:gpt-4o-mini@https://api.openai.com/v1 --port 8080",
                    "sarlang serve --human demo_out/build --sample 200 --out answers/",
                    note="visitors choose only among the --model models; nothing of the build but the pictures shown is served"),
)
@user_errors
def serve_command(
    model: Annotated[list[str] | None, typer.Option("--model", help="A model the page may ask, repeatable (the first is asked first): a built-in model folder, a Hugging Face folder, or api:MODEL@URL. Visitors choose only among these.", show_default=False)] = None,
    clip: Annotated[str | None, typer.Option("--clip", help="A CLIP model (SAR-CLIP folder, openclip:...) to search the build's images by text.")] = None,
    build: Annotated[Path | None, typer.Option("--build", help="A build whose test images can be picked (and searched with --clip).")] = None,
    human: Annotated[Path | None, typer.Option("--human", help="Serve the human-baseline questionnaire over this build's test questions instead.")] = None,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Questions in the questionnaire (the same for every participant).")] = 200,
    out: Annotated[Path, typer.Option("--out", help="Folder for the participants' answers (one predictions file each).")] = Path("answers"),
    host: Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 7860,
    max_mb: Annotated[float, typer.Option("--max-mb", min=0.1, help="Largest upload, megabytes.")] = 200.0,
) -> None:
    """Serve the web demo (upload SAR, preprocess, caption, ask, search) or, with --human, the questionnaire."""
    from sarlang.files import require

    require("gradio", "app", "the web demo (gradio)")
    if clip and not build:
        raise InputError("--clip searches a build's images", hint="give the build too: --build BUILD")
    if human is not None:
        from sarlang.app.human import Questionnaire, make_questionnaire

        survey = Questionnaire.open(human, sample, out)
        page = make_questionnaire(survey)
        console.print(f"questionnaire of {len(survey.questions)} test questions of {human}; answers go to {out}/PARTICIPANT.jsonl", highlight=False)
    else:
        from sarlang.app.web import make_app

        page = make_app(model or [], clip, build, max_mb)
    from sarlang.app.web import launch

    launch(page, host, port, max_mb, on_ready=lambda url: console.print(f"serving on {url} (Ctrl+C or SIGTERM stops)", highlight=False))
    console.print("stopped", highlight=False)
