"""PTB tokenisation as pycocoevalcap's ``PTBTokenizer`` produces it (COCO caption evaluation).

pycocoevalcap runs Stanford CoreNLP 3.4.1's ``PTBTokenizer`` with ``-preserveLines -lowerCase``
and then drops the punctuation tokens in :data:`PUNCTUATION`. We run the same jar (shipped in
the ``pycocoevalcap`` package, the ``coco`` extra) the same way, with two fixes that change no
ordinary caption: the input is passed as UTF-8 explicitly (pycocoevalcap relies on the
platform charset, which mangles non-ASCII text under a POSIX locale), and newlines inside a
caption become spaces before the call so captions stay aligned with their lines.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sarlang.errors import MissingDependencyError, SarlangError
from sarlang.vocabulary import counted

#: Tokens pycocoevalcap removes after tokenising (case-sensitive: "-lrb-" survives, as there).
PUNCTUATION = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"])

CORENLP_JAR = "stanford-corenlp-3.4.1.jar"


def pycocoevalcap_file(subdir: str, name: str, what: str, extra: str) -> Path:
    """A file shipped inside the pycocoevalcap package, or a clear error saying how to get it."""
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(what, extra=extra)
    for location in spec.submodule_search_locations:
        path = Path(location) / subdir / name
        if path.is_file():
            return path
    raise MissingDependencyError(what, hint=f"{name} is missing from pycocoevalcap; reinstall it: pip install --force-reinstall pycocoevalcap")


def corenlp_jar() -> Path:
    """Path of the CoreNLP jar shipped with pycocoevalcap."""
    return pycocoevalcap_file("tokenizer", CORENLP_JAR, "the PTB tokenizer (pycocoevalcap)", extra="coco")


def java_executable() -> str:
    java = shutil.which("java")
    if java is None:
        raise MissingDependencyError(
            "Java (needed by the PTB tokenizer and METEOR)",
            hint="install a Java runtime, e.g. apt-get install default-jre-headless",
        )
    return java


def ptb_tokenize(sentences: Sequence[str]) -> list[str]:
    """Tokenise each sentence (lower-cased, punctuation removed, tokens joined by single spaces)."""
    if not sentences:
        return []
    jar = corenlp_jar()
    java = java_executable()
    text = "\n".join(s.replace("\r", " ").replace("\n", " ") for s in sentences)
    with tempfile.TemporaryDirectory(prefix="sarlang-ptb-") as tmp:
        path = Path(tmp) / "captions.txt"
        path.write_text(text, encoding="utf-8")
        cmd = [java, "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase"]
        cmd += ["-encoding", "utf-8", str(path)]
        proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SarlangError(
            "the PTB tokenizer (Java) failed: " + proc.stderr.decode("utf-8", "replace").strip()[-500:],
            hint="check that 'java -version' works",
        )
    lines = proc.stdout.decode("utf-8").split("\n")
    if len(lines) < len(sentences):
        raise SarlangError(f"the PTB tokenizer returned {len(lines)} lines for {counted(len(sentences), 'caption')}")
    return [" ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATION) for line in lines[: len(sentences)]]
