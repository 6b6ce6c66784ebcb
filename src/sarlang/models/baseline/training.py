"""Training the built-in model: batches of whole images' questions, the object loss on turned
views, AdamW with a cosine schedule, a checkpoint after every epoch that a rerun resumes from."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sarlang.errors import InputError, SarlangError
from sarlang.files import atomic_path, require
from sarlang.models.baseline.config import BaselineConfig, glimpse, load_grey, load_picture, picture_of, ratio_picture
from sarlang.models.baseline.text import EOS, PAD, Vocabulary
from sarlang.schema import Reject

if TYPE_CHECKING:
    from sarlang.models.baseline.model import BaselineModel


def train(
    examples: Sequence[tuple[str, str, str]],
    out_dir: str | Path,
    config: BaselineConfig,
    on_progress: Callable[[int, int, float], None] | None = None,
    objects: dict[str, list[tuple]] | None = None,
    pair_examples: Sequence[tuple[tuple[str, ...], str, str]] = (),
    masks: dict[str, np.ndarray] | None = None,
) -> BaselineModel:
    """Train on (image path, prompt, answer) triples; resumes from ``out_dir/checkpoint.pt``.

    ``pair_examples`` ((earlier, later) paths, prompt, answer) teach the model bi-temporal
    pairs too (``pairs`` in its config): their steps, a few pairs with all their questions each,
    are shuffled among the image steps; a pair's memory is both dates' and their log-ratio
    picture's (:func:`~sarlang.models.baseline.network.pair_memory`). Without pairs, training is
    what it was, step for step.

    ``objects`` (image path -> (category, x, y, width, height) objects: box centres and sizes as
    fractions of the image width and height; the sizes may be left out without glimpses) turns
    on the object head: it learns where each category's objects are, and the decoder reads those
    maps and per-category counts. Images missing from it add no object loss. With glimpses
    (``glimpse_size``), the encoder also learns each labelled object's category from a glimpse
    of it at full resolution (turned, mirrored and shifted by up to a tenth of its side).

    ``masks`` (image path -> its objects' pixels, bool, the image's size) turns on the mask head
    (:mod:`sarlang.models.baseline.masks`), trained after the rest with the tower frozen.
    """
    torch = require("torch", "train", "the built-in model (torch)")
    from sarlang.models.baseline.model import BaselineModel

    if not examples and not pair_examples:
        raise SarlangError("no training examples")
    paths = sorted({path for path, _, _ in examples})
    pair_keys = sorted({tuple(images) for images, _, _ in pair_examples})
    if pair_keys:
        config = replace(config, pairs=True)
    unresolved_glimpses = config.glimpse_size == -1 and config.encoder != "scratch"
    config = config.resolved(picture_sides(paths or [k[0] for k in pair_keys]) if unresolved_glimpses else None)
    if objects and not config.categories:
        config = replace(config, categories=sorted({c for found in objects.values() for c, *_ in found}))
    if config.categories and not objects:
        raise InputError("categories are set but no object labels were given", hint="train on a build with objects.jsonl, or leave categories out")
    if masks and not config.mask_size:
        if config.encoder == "scratch":
            raise InputError("the mask head needs the pretrained encoder", hint="install sarlang[towers], or train without mask records")
        config = replace(config, mask_size=1024)
    if config.categories and not config.box_sizes:
        config = replace(config, box_sizes=median_boxes(objects or {}, config.categories, image_sizes(list(objects or {}))))
    glimpsing = bool(config.glimpse_size and config.categories)
    originals = {path: load_grey(path) for path in paths if path in (objects or {})} if glimpsing else {}
    if glimpsing and not config.glimpse_pixels:
        config = replace(config, glimpse_pixels=glimpse_side(objects or {}, originals))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    checkpoint_path = out / "checkpoint.pt"
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        if state.get("config") != asdict(config):
            raise InputError(f"'{checkpoint_path}' was made with other settings", hint="use another output folder or delete the checkpoint")
        vocab = Vocabulary(state["vocab"])
    else:
        state = None
        texts = [*examples, *pair_examples]
        vocab = Vocabulary.build([p for _, p, _ in texts] + [a for _, _, a in texts], config.min_count)
    model = BaselineModel(config, vocab)
    net = model.network
    pictures = [picture_of(originals[path], config.image_size) if path in originals else load_picture(path, config.image_size) for path in paths]
    maps = object_maps(objects or {}, config)
    image_maps = [maps.get(path) for path in paths]
    index = {path: i for i, path in enumerate(paths)}
    by_image: list[list[tuple[list[int], list[int]]]] = [[] for _ in paths]
    for path, prompt, answer in examples:
        by_image[index[path]].append((model._prompt_ids(prompt), vocab.encode(answer)[: config.max_answer_tokens] + [EOS]))
    labelled = [i for i, found in enumerate(image_maps) if found is not None]
    # a pair's pictures (earlier, later, log-ratio) follow the single pictures, three per pair
    first_pair = len(pictures)
    for earlier, later in pair_keys:
        a, b = load_grey(earlier), load_grey(later)
        pictures += [picture_of(a, config.image_size), picture_of(b, config.image_size), ratio_picture(a, b, config.image_size)]
    pair_index = {key: k for k, key in enumerate(pair_keys)}
    by_pair: list[list[tuple[list[int], list[int]]]] = [[] for _ in pair_keys]
    for images, prompt, answer in pair_examples:
        by_pair[pair_index[tuple(images)]].append((model._prompt_ids(prompt), vocab.encode(answer)[: config.max_answer_tokens] + [EOS]))
    trunks = None
    if getattr(net.encoder, "locked", False):
        views = len(pictures) + 7 * len(labelled)
        side = config.image_size // config.grid_stride
        if views * net.encoder.trunk_channels * side * side * 4 <= TRUNK_CACHE_BYTES:
            trunks = _LockedTrunk(net.encoder, pictures, set(labelled))
        else:
            import logging

            logging.getLogger("sarlang").warning("the locked tower's features of %d picture views would not fit in %.0f GiB; "
                                                 "computing them at every step instead", views, TRUNK_CACHE_BYTES / 2**30)
    category_index = {c: k for k, c in enumerate(config.categories)}
    found_in = [[o for o in (objects or {}).get(path, []) if o[0] in category_index] for path in paths]
    # a batch holds every question of a few images (about batch_size questions), so each image
    # is encoded once per batch; the object head learns from object_views other labelled images
    per_batch = max(1, round(config.batch_size * len(paths) / len(examples))) if examples else 1
    per_pair_batch = max(1, round(config.batch_size * len(pair_keys) / len(pair_examples))) if pair_examples else 1
    # the pretrained tower learns slower than the layers that start from nothing
    tower = [p for name, p in net.named_parameters() if name.startswith("encoder.tower.") and p.requires_grad]
    rest = [p for name, p in net.named_parameters() if not name.startswith("encoder.tower.") and p.requires_grad]
    groups = [{"params": rest, "lr": config.learning_rate}] + ([{"params": tower, "lr": config.encoder_learning_rate}] if tower else [])
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, weight_decay=config.weight_decay)
    image_steps = math.ceil(len(paths) / per_batch)
    pair_steps = math.ceil(len(pair_keys) / per_pair_batch)
    steps_per_epoch = image_steps + pair_steps
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, steps_per_epoch // 2)) * 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    mask_steps = config.mask_steps if masks and config.mask_size else 0
    start_epoch = 0
    if state is not None:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch = state["epoch"]
    order_rng = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        order = order_rng.permutation(len(paths))
        pair_order = order_rng.permutation(len(pair_keys)) if pair_keys else np.zeros(0, dtype=int)
        if epoch < start_epoch:
            continue  # keep the shuffles of finished epochs so a resumed run sees the same order
        net.train()
        running = 0.0
        kinds = ["image"] * image_steps + ["pair"] * pair_steps
        if pair_steps:  # pair steps among the image steps, in an order of their own
            kinds = [kinds[k] for k in np.random.default_rng((config.seed, epoch, 1)).permutation(len(kinds))]
        image_step = pair_step = 0
        for step, kind in enumerate(kinds):
            if kind == "pair":
                chosen = pair_order[pair_step * per_pair_batch : (pair_step + 1) * per_pair_batch]
                pair_step += 1
                shown_pictures = [trunks.view(first_pair + 3 * k + j, 0, False) if trunks else pictures[first_pair + 3 * k + j]
                                  for j in range(3) for k in chosen]
                ratios = [pictures[first_pair + 3 * k + 2] for k in chosen]
                loss = _pair_loss(net, shown_pictures, ratios, [(row, *q) for row, k in enumerate(chosen) for q in by_pair[k]], len(chosen))
            else:
                shown = order[image_step * per_batch : (image_step + 1) * per_batch]
                rng = np.random.default_rng((config.seed, epoch, image_step))
                image_step += 1
                views, viewed = [], []
                if labelled and config.categories and config.object_loss_weight > 0:
                    viewed = rng.choice(labelled, size=min(config.object_views, len(labelled)), replace=False).tolist()
                    for i in viewed:
                        turns, flip = int(rng.integers(4)), bool(rng.integers(2))
                        picture, found = dihedral_view(pictures[i], image_maps[i], turns, flip)
                        views.append((trunks.view(i, turns, flip) if trunks else picture, found))
                batch = _Batch([trunks.view(i, 0, False) if trunks else pictures[i] for i in shown],
                               [(row, *pair) for row, i in enumerate(shown) for pair in by_image[i]], views)
                if glimpsing:
                    _add_glimpses(batch, [(originals.get(paths[i]), found_in[i]) for i in shown], [(originals[paths[i]], found_in[i]) for i in viewed],
                                  category_index, config, rng)
                loss = _loss(net, batch, config.object_loss_weight)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            running += float(loss.detach())
            if on_progress:
                on_progress(epoch * steps_per_epoch + step + 1, total_steps + mask_steps, running / (step + 1))
        state = {"config": asdict(config), "vocab": vocab.tokens, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(), "epoch": epoch + 1}
        with atomic_path(checkpoint_path) as tmp:
            torch.save(state, tmp)
    if mask_steps:
        from sarlang.models.baseline.masks import train_mask_head

        mask_paths = sorted(masks or {})
        train_mask_head(net, [load_grey(p) for p in mask_paths], [masks[p] for p in mask_paths], mask_steps, config.seed,
                        None if on_progress is None else lambda s, n, loss: on_progress(total_steps + s, total_steps + n, loss))
    net.eval()
    model.save(out)
    return model


def image_sizes(paths: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(width, height) in pixels of each picture that can be read, from its header."""
    from PIL import Image

    sizes = {}
    for path in paths:
        try:
            with Image.open(path) as im:
                sizes[path] = im.size
        except (OSError, ValueError):
            continue
    return sizes


def median_boxes(objects: dict[str, list[tuple]], categories: list[str], sizes: dict[str, tuple[int, int]]) -> list[list[float]]:
    """Each category's median box width and height in pixels of the original images (an object
    has a size on the ground, so pixels carry across images of other sizes, where fractions of a
    128-pixel chip and of a 600-pixel scene would not), from the labels that carry sizes; empty
    when some category has none (grounding then stays with the decoder)."""
    found_sizes: dict[str, list[tuple[float, float]]] = {c: [] for c in categories}
    for path, found in objects.items():
        if path not in sizes:
            continue
        width, height = sizes[path]
        for o in found:
            if len(o) >= 5 and o[0] in found_sizes and o[3] > 0 and o[4] > 0:
                found_sizes[o[0]].append((min(1.0, o[3]) * width, min(1.0, o[4]) * height))
    if not all(found_sizes.values()):
        return []
    return [[round(float(np.median([w for w, _ in found_sizes[c]])), 2), round(float(np.median([h for _, h in found_sizes[c]])), 2)]
            for c in categories]


def object_maps(objects: dict[str, list[tuple]], config: BaselineConfig) -> dict[str, np.ndarray]:
    """Per image, the number of object centres of each category in each grid cell (categories x s x s)."""
    side = config.image_size // config.grid_stride
    index = {c: i for i, c in enumerate(config.categories)}
    maps = {}
    for path, found in objects.items():
        grid = np.zeros((len(index), side, side), dtype=np.float32)
        for category, x, y, *_ in found:
            if category in index:
                grid[index[category], min(side - 1, max(0, int(y * side))), min(side - 1, max(0, int(x * side)))] += 1
        maps[path] = grid
    return maps


def dihedral_view(image: np.ndarray, object_map: np.ndarray, turns: int, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    """The image (rows x columns) and its object map (categories x cells x cells) turned by
    ``turns`` quarter turns and, if ``flip``, mirrored left-right: the same view of both."""
    image, object_map = np.rot90(image, turns), np.rot90(object_map, turns, axes=(1, 2))
    if flip:
        image, object_map = image[:, ::-1], object_map[:, :, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(object_map)


def picture_sides(paths: Sequence[str]) -> list[float]:
    """The longer side, in pixels, of each picture at ``paths`` that can be read (from its header;
    the training itself then says which is broken)."""
    from PIL import Image

    sides = []
    for path in paths:
        try:
            with Image.open(path) as im:
                sides.append(float(max(im.size)))
        except (OSError, ValueError):
            continue
    return sides


#: The most memory the locked trunk's cached features may take (bytes); beyond, they are computed at every step.
TRUNK_CACHE_BYTES = 4 * 2**30


class _LockedTrunk:
    """The locked tower trunk's output for every training picture, computed once: upright for
    all, and in the eight turned and mirrored views for the labelled ones (the object views)."""

    def __init__(self, encoder: Any, pictures: list[np.ndarray], labelled: set[int]) -> None:
        import torch

        self.features: dict[tuple[int, int, bool], np.ndarray] = {}
        wanted = [(i, turns, flip) for i in range(len(pictures)) for turns in range(4) for flip in (False, True)
                  if (turns, flip) == (0, False) or i in labelled]
        encoder.eval()
        with torch.no_grad():
            for start in range(0, len(wanted), 64):
                keys = wanted[start : start + 64]
                views = np.stack([_turned(pictures[i], turns, flip) for i, turns, flip in keys])
                for key, out in zip(keys, encoder.trunk(torch.from_numpy(views)[:, None]).numpy()):
                    self.features[key] = out
        encoder.train()

    def view(self, index: int, turns: int, flip: bool) -> np.ndarray:
        return self.features[(index, turns, flip)]


def _turned(image: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    image = np.rot90(image, turns)
    return np.ascontiguousarray(image[:, ::-1] if flip else image)


def glimpse_side(objects: dict[str, list[tuple]], originals: dict[str, np.ndarray]) -> float:
    """The side of a glimpse in original pixels: the median longer side of the labelled boxes.

    Raises:
        InputError: the object labels carry no box sizes.
    """
    sides = [max(o[3] * originals[path].shape[1], o[4] * originals[path].shape[0])
             for path, found in objects.items() if path in originals for o in found if len(o) >= 5]
    if not sides:
        raise InputError("glimpses need the objects' box sizes", hint="train on a build's objects.jsonl, set glimpse_pixels, or set glimpse_size: 0")
    return float(np.median(sides))


@dataclass
class _Batch:
    """One training step: images (grey, image_size square); their questions as (image row, prompt
    ids, answer ids); turned or mirrored views of labelled images with their object maps; and,
    with glimpses, the glimpse centres of each image, the glimpses (first those of the images, in
    order, then those of the views' objects) and their category indices."""

    images: list[np.ndarray]
    questions: list[tuple[int, list[int], list[int]]]
    views: list[tuple[np.ndarray, np.ndarray]]
    centres: list[list[tuple[float, float]]] = field(default_factory=list)
    glimpses: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)


def _add_glimpses(batch: _Batch, shown: list[tuple[np.ndarray | None, list[tuple]]], viewed: list[tuple[np.ndarray, list[tuple]]],
                  index: dict[str, int], config: BaselineConfig, rng: np.random.Generator) -> None:
    """Glimpses of the labelled objects: upright at the box centres for the shown images (their
    categories then stand in the decoder's memory, as the found objects' do when answering), and
    turned, mirrored and shifted by up to a tenth of the side for the views' objects."""
    side, size = config.glimpse_pixels, config.glimpse_size
    for original, found in shown:
        batch.centres.append([(x, y) for _, x, y, *_ in found] if original is not None else [])
        for category, x, y, *_ in found if original is not None else []:
            batch.glimpses.append(glimpse(original, x, y, side, size))
            batch.labels.append(index[category])
    for original, found in viewed:
        height, width = original.shape
        for category, x, y, *_ in found:
            dx, dy = rng.uniform(-0.1, 0.1, 2) * side
            batch.glimpses.append(glimpse(original, x + dx / width, y + dy / height, side, size, int(rng.integers(4)), bool(rng.integers(2))))
            batch.labels.append(index[category])


def _length_groups(questions: list[tuple[int, list[int], list[int]]]) -> list[list[tuple[int, list[int], list[int]]]]:
    """Questions in groups of similar length, so short questions are not padded to a detailed caption's length."""
    ordered = sorted(questions, key=lambda q: len(q[1]) + len(q[2]))
    groups: list[list[tuple[int, list[int], list[int]]]] = []
    for question in ordered:
        size = len(question[1]) + len(question[2])
        if groups and size <= 1.5 * (len(groups[-1][0][1]) + len(groups[-1][0][2])) + 4:
            groups[-1].append(question)
        else:
            groups.append([question])
    return groups


def _loss(net: Any, batch: _Batch, object_weight: float) -> Any:
    """Cross-entropy on the answer tokens, each record weighing the same, plus the object head's error.

    The object loss is the squared error of the per-cell centre counts plus the absolute error
    of each category's total count (a density-map counting objective, as in Lempitsky and
    Zisserman, "Learning to count objects in images", NeurIPS 2010), on randomly turned or
    mirrored views of labelled images: the object maps turn with the image, so the encoder sees
    eight views of every training scene, while the answers (which name positions) stay with the
    upright image. Images and views go through the encoder together, so batch norm sees them all.
    """
    import torch

    shown = len(batch.images)
    pixels = torch.from_numpy(np.stack(batch.images + [view for view, _ in batch.views]))
    grid = net.encoder.grid(pixels[:, None]) if pixels.ndim == 3 else net.encoder.grid_from_trunk(pixels)
    glimpses, glimpse_loss = None, None
    if batch.glimpses:
        logits = net.encoder.glimpse_logits(torch.from_numpy(np.stack(batch.glimpses))[:, None])
        glimpses = (batch.centres + [[] for _ in batch.views], torch.softmax(logits, 1))
        glimpse_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(batch.labels))
    cells, density = net.encoder.from_grid(grid, glimpses)
    memory = net.memory(cells[:shown], None if density is None else density[:shown])
    loss = _answer_loss(net, memory, batch.questions)
    if batch.views and density is not None:
        truth = torch.from_numpy(np.stack([found for _, found in batch.views]))
        guess = density[shown:]
        loss = loss + object_weight * net.encoder.object_loss(guess, truth).mean()
    if glimpse_loss is not None:
        loss = loss + object_weight * glimpse_loss
    return loss


def _pair_loss(net: Any, pictures: list[np.ndarray], ratios: list[np.ndarray], questions: list[tuple[int, list[int], list[int]]], pairs: int) -> Any:
    """The answer loss of a step of pairs: ``pictures`` are every pair's earlier dates, then their
    later dates, then their log-ratio pictures (or their locked trunk's features), one encoder
    pass; ``ratios`` the log-ratio pictures themselves (their change tokens)."""
    import torch

    from sarlang.models.baseline.network import pair_memory

    pixels = torch.from_numpy(np.stack(pictures))
    grid = net.encoder.grid(pixels[:, None]) if pixels.ndim == 3 else net.encoder.grid_from_trunk(pixels)
    cells, density = net.encoder.from_grid(grid, None)

    def date(k: int) -> Any:
        part = slice(k * pairs, (k + 1) * pairs)
        return net.memory(cells[part], None if density is None else density[part])

    raw = torch.from_numpy(np.stack(ratios))[:, None]
    return _answer_loss(net, pair_memory(net, date(0), cells[2 * pairs :], date(1), raw), questions)


def _answer_loss(net: Any, memory: Any, questions: list[tuple[int, list[int], list[int]]]) -> Any:
    """Cross-entropy on the answer tokens of (memory row, prompt ids, answer ids), each record weighing the same."""
    import torch

    from sarlang.models.baseline.network import decode, mentions

    total = torch.zeros(())
    for group in _length_groups(questions):
        length = max(len(p) + len(a) for _, p, a in group)
        tokens = torch.full((len(group), length), PAD, dtype=torch.long)
        targets = torch.full((len(group), length), -100, dtype=torch.long)
        for row, (_, prompt, answer) in enumerate(group):
            sequence = prompt + answer
            tokens[row, : len(sequence)] = torch.tensor(sequence)
            # position t predicts token t + 1; only answer tokens (and EOS) are learned
            start = len(prompt) - 1
            targets[row, start : start + len(answer)] = torch.tensor(answer)
        log_probs = decode(net, memory[torch.tensor([image for image, _, _ in group])], tokens, mentions(net, [prompt for _, prompt, _ in group]))
        per_token = torch.nn.functional.nll_loss(log_probs.transpose(1, 2), targets, ignore_index=-100, reduction="none")
        total = total + (per_token.sum(1) / (targets != -100).sum(1)).sum()
    return total / len(questions)


def object_labels(setting: Any, records_file: Path, root: Path, images: set[str]) -> dict[str, list[tuple]] | None:
    """Objects (category, centre x / width, centre y / height, box width / width, box height /
    height) of the training images, from a build's objects.jsonl."""
    from sarlang.files import iter_jsonl, read_bytes

    if setting in (None, False, "none"):
        return None
    if not isinstance(setting, str):
        raise InputError(f"'objects' must be auto, none or a path to objects.jsonl, got {setting!r}")
    path = records_file.parent / "objects.jsonl" if setting == "auto" else (root / setting).resolve()
    if not path.exists():
        if setting == "auto":
            return None
        raise InputError(f"object labels '{path}' do not exist", hint="sarlang build writes objects.jsonl beside records.jsonl")
    labels: dict[str, list[tuple]] = {}
    bad: list[Reject] = []
    rows = list(iter_jsonl(read_bytes(path), str(path), bad))
    if bad:
        raise InputError(f"'{path}' line {bad[0].row}: {bad[0].reason}")
    for number, row in rows:
        if not isinstance(row, dict):
            raise InputError(f"'{path}' line {number} is not a JSON object")
        try:
            image = str((path.parent / row["image"]).resolve())
            width, height = float(row["width"]), float(row["height"])
            found = [(str(o["category"]), (o["box"][0] + o["box"][2] / 2) / width, (o["box"][1] + o["box"][3] / 2) / height,
                      o["box"][2] / width, o["box"][3] / height) for o in row["objects"]]
            if not all(math.isfinite(v) for o in found for v in o[1:]) or width <= 0 or height <= 0:
                raise ValueError("a size or box that is not a positive finite number")
        except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError) as exc:
            raise InputError(f"'{path}' has a malformed row for '{row.get('image', '?')}': {exc!r}") from None
        if image in images:
            labels[image] = found
    return labels or None
