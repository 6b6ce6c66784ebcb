"""METEOR 1.5 through its jar, as pycocoevalcap computes it.

Denkowski and Lavie, "Meteor Universal: Language specific translation evaluation for any
target language", WMT 2014. pycocoevalcap runs ``meteor-1.5.jar - - -stdio -l en -norm``
and sends one ``SCORE ||| ref ... ||| hyp`` line per image, then one ``EVAL`` line with all the
statistics; the jar answers a score per image and the corpus score. We speak the same
protocol to the jar shipped in the ``pycocoevalcap`` package (the ``coco`` extra), with the
text passed as UTF-8 and newlines and ``|||`` (the protocol's separators) taken out of captions.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from sarlang.errors import SarlangError
from sarlang.eval.ptb import java_executable, pycocoevalcap_file

METEOR_JAR = "meteor-1.5.jar"


def meteor_jar() -> Path:
    return pycocoevalcap_file("meteor", METEOR_JAR, "METEOR (pycocoevalcap's meteor-1.5.jar)", extra="coco")


def _clean(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ").replace("|||", "").replace("  ", " ")


def meteor_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[float, list[float]]:
    """Corpus METEOR and per-image METEOR (fractions), from the METEOR 1.5 jar."""
    jar = meteor_jar()
    java = java_executable()
    cmd = [java, "-Dfile.encoding=UTF-8", "-jar", "-Xmx2G", str(jar), "-", "-", "-stdio", "-l", "en", "-norm"]
    proc = subprocess.Popen(cmd, cwd=jar.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        stats = []
        for hyp, refs in zip(hypotheses, references):
            line = " ||| ".join(("SCORE", " ||| ".join(_clean(r) for r in refs), _clean(hyp)))
            proc.stdin.write((line + "\n").encode("utf-8"))
            proc.stdin.flush()
            stat = proc.stdout.readline().decode("utf-8").strip()
            if not stat:
                raise SarlangError("METEOR stopped answering: " + proc.stderr.read().decode("utf-8", "replace")[-500:])
            stats.append(stat)
        proc.stdin.write(("EVAL ||| " + " ||| ".join(stats) + "\n").encode("utf-8"))
        proc.stdin.flush()
        per_image = [float(proc.stdout.readline().strip()) for _ in stats]
        corpus = float(proc.stdout.readline().strip())
    except ValueError as exc:
        raise SarlangError(f"METEOR returned an unreadable score: {exc}") from exc
    finally:
        proc.kill()
        proc.wait()
    return corpus, per_image
