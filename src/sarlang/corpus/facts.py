"""Questions whose answer is a fact about how an image was taken, not what it shows: which sensor
acquired it and at what ground sampling distance (``sarlang build --knowledge``).

These are the knowledge questions of retrieval-augmented answering (RS-RAG, Wen et al. 2025): a
model sees only pixels, so it can answer them only from what it learned of similar images or
from a knowledge base that holds the facts (:mod:`sarlang.knowledge`). Asked only when the
source gives the fact (``sensor=``, ``gsd=``), with the question types ``others.sensor`` and
``others.resolution`` (:data:`sarlang.knowledge.passages.FACT_KEYS` names the passage fact each asks for); the answer is the sensor's name as the source gives it, and the distance
as ``"<metres, :g> m"``.
"""

from __future__ import annotations

from sarlang.corpus.vqa import QA
from sarlang.schema import Scene

SENSOR_QUESTION = "Which sensor acquired this image?"
RESOLUTION_QUESTION = "What is the ground sampling distance of this image?"


def resolution_text(gsd: float) -> str:
    """A ground sampling distance in metres as the answers and passages write it: ``"0.3 m"``."""
    return f"{gsd:g} m"


def fact_questions(scene: Scene) -> list[QA]:
    """The scene's sensor and resolution questions, for the facts its source gives."""
    out = []
    if scene.sensor:
        out.append(QA("others", "others.sensor", SENSOR_QUESTION, scene.sensor))
    if scene.gsd:
        out.append(QA("others", "others.resolution", RESOLUTION_QUESTION, resolution_text(scene.gsd)))
    return out
