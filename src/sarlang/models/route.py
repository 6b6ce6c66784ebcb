"""Experts by instruction: a model that hands each question to the model that answers its kind best
(the mixture of experts of RS-MoE, Lin et al. 2024, at the level of whole models).

Two kinds of router, one interface:

- **Rules** (``route:FILE.yaml``): the file maps application names to model specs, with a
  ``default`` for the rest::

      instance_counting: "blobs:"
      visual_grounding: "blobs:"
      image_description: demo_out/model
      default: api:Qwen/Qwen2.5-VL-3B-Instruct@http://gpu1:8000/v1

  A question's application is read from its wording by SARLANG-1M's rules
  (:func:`sarlang.formats.sarlang1m.infer_application`; captions by their prompt). Relative
  paths are relative to the file.
- **Learned** (a folder from ``sarlang train`` with ``model: router``): a logistic-regression
  classifier over the prompt's MiniLM embedding names the application, and each application
  goes to the expert that scored best on it on a validation split (the ``scores:`` files of
  the config, written by ``sarlang eval vqa --json`` for each expert). It routes prompts the
  wording rules cannot tell apart (other templates, paraphrases). Config::

      model: router
      records: bench/records.jsonl          # the prompts the classifier learns from (split: train)
      out: bench/router
      experts: {blobs: "blobs:", model: bench/model, prior: "prior:bench"}
      scores: {blobs: bench/val_blobs.json, model: bench/val_model.json, prior: bench/val_prior.json}

Every answer says which expert gave it (``experts`` after :meth:`Router.answer`; ``sarlang
predict`` writes it as each prediction's ``expert``). An expert loads when first asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sarlang.errors import InputError
from sarlang.files import atomic_write_json, read_settings
from sarlang.models.base import VisionLanguageModel, load_model, read_model_config

ARCHITECTURE = "sarlang-router"


def application_of(prompt: str) -> str:
    """The application a prompt asks about, by SARLANG-1M's wording rules (captions by their prompt)."""
    from sarlang.formats.prompts import question_of, unwrap_question
    from sarlang.formats.sarlang1m import infer_application

    question = unwrap_question(str(question_of(prompt)))
    return infer_application(question)[0]


class Router(VisionLanguageModel):
    """Hands each (image, prompt) to an expert (see the module docstring).

    Args:
        routes: Application -> expert name, with ``default``.
        specs: Expert name -> model spec.
        classify: Prompts -> applications (the learned router); None reads the wording.
        info_extra: What else :meth:`info` reports (the learned router's validation scores).
    """

    def __init__(self, routes: dict[str, str], specs: dict[str, str], classify: Callable[[list[str]], list[str]] | None = None,
                 info_extra: dict[str, Any] | None = None) -> None:
        if "default" not in routes:
            raise InputError("a router needs a 'default' expert for the applications it does not name",
                             hint="add a line 'default: SPEC'")
        unknown = sorted(set(routes.values()) - set(specs))
        if unknown:
            raise InputError(f"the routes name unknown experts: {', '.join(unknown)}")
        self.routes, self.specs, self.classify = dict(routes), dict(specs), classify
        self.info_extra = info_extra or {}
        self.loaded: dict[str, VisionLanguageModel] = {}
        self.experts: list[str] = []
        self.failures: list[str] = []

    def expert(self, name: str) -> VisionLanguageModel:
        """The expert ``name``, loaded when first asked for."""
        if name not in self.loaded:
            self.loaded[name] = load_model(self.specs[name])
        return self.loaded[name]

    #: A router takes pairs: one routed to an expert that sees one image is left unanswered, with the reason.
    images_per_prompt = 2

    def choose(self, prompts: Sequence[str]) -> list[str]:
        """The expert name of each prompt."""
        applications = self.classify(list(prompts)) if self.classify else [application_of(p) for p in prompts]
        return [self.routes.get(a, self.routes["default"]) for a in applications]

    def answer(self, batch: Sequence[tuple[Any, str]]) -> list[str | None]:
        """Each item answered by its expert; ``experts`` then names them, in order."""
        names = self.choose([p for _, p in batch])
        out: list[str | None] = [None] * len(batch)
        for name in dict.fromkeys(names):
            chosen = [i for i, n in enumerate(names) if n == name]
            model = self.expert(name)
            if getattr(model, "images_per_prompt", 1) < 2:
                pairs = [i for i in chosen if not isinstance(batch[i][0], str)]
                if pairs:
                    self.failures += [f"{name}: sees one image per prompt, and was routed a question about a pair"] * len(pairs)
                    chosen = [i for i in chosen if i not in set(pairs)]
                    if not chosen:
                        continue
            before = len(model.failures)
            answers = model.answer([batch[i] for i in chosen])
            self.failures += [f"{name}: {reason}" for reason in list(model.failures)[before:]]
            for i, a in zip(chosen, answers):
                out[i] = a
        self.experts = names
        return out

    def save(self, directory: str | Path) -> None:
        """``config.json`` (routes, experts, validation scores) in ``directory``; a learned router adds its classifier (``sarlang train`` writes both)."""
        atomic_write_json(Path(directory) / "config.json", {"architecture": ARCHITECTURE, "routes": self.routes, "experts": self.specs,
                                                           **self.info_extra})

    def info(self) -> dict[str, Any]:
        """The routes and each expert's spec (the experts' own settings are theirs)."""
        return {"id": ARCHITECTURE, "routes": self.routes, "experts": self.specs, "learned": self.classify is not None, **self.info_extra}

    def close(self) -> None:
        for model in self.loaded.values():
            model.close()


def _resolve(spec: str, base: Path) -> str:
    """A spec as given, or a relative folder resolved against ``base`` (where the routes file is)."""
    spec = str(spec).strip()
    if ":" in spec.split("/")[0] or Path(spec).is_absolute():
        return spec
    return str((base / spec).resolve()) if (base / spec).exists() else spec


def rules_router(path: str | Path) -> Router:
    """The router of a routes file (see the module docstring).

    Raises:
        InputError: a file that cannot be read, an unknown application, no ``default``.
    """
    from sarlang.schema import APPLICATIONS

    file = Path(path)
    settings = read_settings(file, "routes file")
    if not isinstance(settings, dict) or not all(isinstance(v, str) and v.strip() for v in settings.values()):
        raise InputError(f"'{file}' must map application names to model specs", hint="e.g. instance_counting: \"blobs:\" and default: mybench/model")
    unknown = sorted(k for k in settings if k != "default" and k not in APPLICATIONS)
    if unknown:
        raise InputError(f"'{file}' names unknown applications: {', '.join(unknown)}", hint=f"use {', '.join(APPLICATIONS)} or default")
    specs = {name: _resolve(spec, file.parent) for name, spec in settings.items()}
    # one expert per distinct spec: two applications given one model share it
    by_spec: dict[str, str] = {}
    for application, spec in specs.items():
        by_spec.setdefault(spec, spec)
    return Router({a: s for a, s in specs.items()}, {s: s for s in by_spec})


# --- the learned router ---------------------------------------------------------------------------


def _accuracies(score_file: Path) -> dict[str, tuple[float, int]]:
    """Application -> (accuracy, n) of a ``sarlang eval vqa --json`` file."""
    try:
        data = json.loads(score_file.read_text(encoding="utf-8"))
        return {a: (float(v["accuracy"]), int(v["n"])) for a, v in data["by_application"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"'{score_file}' is not a VQA score file: {exc}", hint="write it with sarlang eval vqa PREDICTIONS --records R --json FILE") from None


def best_experts(scores: dict[str, dict[str, tuple[float, int]]]) -> tuple[dict[str, str], str]:
    """Per application the expert with the highest validation accuracy (ties: the first named),
    and the default: the expert best over all validation items."""
    applications = sorted({a for per in scores.values() for a in per})
    routes = {}
    for a in applications:
        ranked = [(per[a][0], -k, name) for k, (name, per) in enumerate(scores.items()) if a in per]
        routes[a] = max(ranked)[2]
    overall = [(sum(acc * n for acc, n in per.values()) / max(1, sum(n for _, n in per.values())), -k, name) for k, (name, per) in enumerate(scores.items())]
    return routes, max(overall)[2]


class _Classifier:
    """Multinomial logistic regression over unit MiniLM embeddings, kept as plain arrays."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: list[str]) -> None:
        self.coef, self.intercept, self.classes = coef, intercept, classes
        self._encode: Any = None

    def __call__(self, prompts: list[str]) -> list[str]:
        if self._encode is None:
            from sarlang.knowledge.index import text_encoder

            self._encode = text_encoder()
        texts = [str(getattr(p, "question", p)) for p in prompts]
        logits = self._encode(texts) @ self.coef.T + self.intercept
        if len(self.classes) == 1:
            return [self.classes[0]] * len(prompts)
        return [self.classes[i] for i in np.argmax(logits, axis=1)]


def train_job(job: Any, on_progress: Callable[[int, int, float], None] | None = None) -> Router:
    """The ``model: router`` trainer (see :class:`sarlang.models.run.TrainingJob` and the module docstring).

    Raises:
        InputError: ``experts`` or ``scores`` missing or naming different experts, a score file
            that cannot be read, or records without prompts of two applications.
    """
    from sarlang.files import require

    experts, score_files = job.config.get("experts"), job.config.get("scores")
    if not isinstance(experts, dict) or not experts or not isinstance(score_files, dict):
        raise InputError("a router config needs 'experts' (name: spec) and 'scores' (name: validation score file)")
    if set(experts) != set(score_files):
        raise InputError("'experts' and 'scores' must name the same experts", hint=f"experts {sorted(experts)}, scores {sorted(score_files)}")
    specs = {name: _resolve(str(spec), job.root) for name, spec in experts.items()}
    scores = {name: _accuracies(job.root / str(score_files[name])) for name in experts}
    routes, default = best_experts(scores)
    prompts, labels = [], []
    for _, prompt, answer, application in _labelled(job):
        prompts.append(str(getattr(prompt, "question", prompt)))
        labels.append(application)
    classes = sorted(set(labels))
    if len(classes) < 1:
        raise InputError("no training prompts for the router")
    from sarlang.knowledge.index import text_encoder

    encode = text_encoder()
    vectors = encode(prompts)
    if len(classes) > 1:
        linear = require("sklearn.linear_model", "knowledge", "the learned router (scikit-learn)")
        fit = linear.LogisticRegression(max_iter=1000, C=10.0).fit(vectors, labels)
        coef, intercept, classes = fit.coef_.astype(np.float32), fit.intercept_.astype(np.float32), [str(c) for c in fit.classes_]
        if len(classes) == 2:  # sklearn's binary form: one row for the second class
            coef, intercept = np.stack([-coef[0], coef[0]]) / 2, np.array([-intercept[0], intercept[0]]) / 2
        accuracy = float(np.mean(np.asarray(labels) == np.asarray(classes)[np.argmax(vectors @ coef.T + intercept, axis=1)]))
    else:
        coef, intercept, accuracy = np.zeros((1, vectors.shape[1]), np.float32), np.zeros(1, np.float32), 1.0
    if on_progress:
        on_progress(1, 1, 1.0 - accuracy)
    out = job.out
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "classifier.npz", coef=coef, intercept=intercept, classes=np.asarray(classes))
    extra = {"validation": {name: {a: {"accuracy": acc, "n": n} for a, (acc, n) in per.items()} for name, per in scores.items()},
             "classifier_train_accuracy": accuracy, "trained_on": len(prompts)}
    router = Router({**routes, "default": default}, specs, _Classifier(coef, intercept, classes), extra)
    router.save(out)
    return router


def _labelled(job: Any) -> list[tuple[str, str, str, str]]:
    """(image, prompt, answer, application) of the config's split, for the classifier."""
    from sarlang.formats.prompts import prompt_for
    from sarlang.formats.records import load_records

    records, _ = load_records(job.records_file)
    split = job.config.get("split", "train")
    chosen = [r for r in records if r.split == split]
    if not chosen:
        raise InputError(f"no records of split {split} in '{job.records_file}'")
    return [(r.image, prompt_for(r), r.answer, r.application) for r in chosen]


def claims(spec: str) -> bool:
    """``route:FILE.yaml``, or a folder a learned router was saved in."""
    return spec.startswith("route:") or (not spec.startswith(("api:", "prior:")) and read_model_config(Path(spec)).get("architecture") == ARCHITECTURE)


def load(spec: str) -> Router:
    """The router of ``route:FILE`` or of a learned router's folder.

    Raises:
        InputError: a missing file, or a folder whose classifier is missing.
    """
    if spec.startswith("route:"):
        return rules_router(spec[len("route:"):])
    folder = Path(spec)
    config = read_model_config(folder)
    try:
        saved = np.load(folder / "classifier.npz")
        classifier = _Classifier(saved["coef"], saved["intercept"], [str(c) for c in saved["classes"]])
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"'{folder}' is a router without a usable classifier.npz: {exc}", hint="train it again") from None
    extra = {k: v for k, v in config.items() if k not in ("architecture", "routes", "experts")}
    return Router(config["routes"], config["experts"], classifier, extra)
