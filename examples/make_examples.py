"""Write the small example prediction files in this folder (deterministic; run to regenerate).

They imitate what SAR vision-language models answer on a SARLANG-1M-style test set: twelve
scenes with hand-written ground truth, captions from two fine-tuned models, and answers to
questions of all seven applications from two models (one stronger), in the formats sarlang
reads: LLaMA-Factory JSONL, SARLANG-1M's VQA_result.csv, ms-swift JSONL and our own JSONL.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).parent

# image, detailed reference caption, caption of model A, caption of model B
CAPTIONS = [
    ("harbor_0001.png",
     "A SAR image of a harbor with four bright ships moored along a straight pier, dark calm water in the lower half and dense urban backscatter in the upper part.",
     "A SAR image of a harbor with three bright ships moored along a pier, dark water in the lower half and buildings in the upper part.",
     "An image of a port with ships and buildings."),
    ("airport_0002.png",
     "A SAR image of an airport apron with six aircraft parked in a row, their bright cross-shaped returns standing out against the dark smooth tarmac.",
     "A SAR image of an airport with six aircraft parked in a row on the dark tarmac.",
     "A SAR image of an airport with several aircraft parked on the tarmac."),
    ("sea_0003.png",
     "A SAR image of open sea with a single large ship in the center, showing a bright point-like return and a faint wake.",
     "A SAR image of open sea with a single ship in the center and a faint wake.",
     "A SAR image of the sea with a ship."),
    ("tanks_0004.png",
     "A SAR image of an oil depot with twelve circular storage tanks arranged in a grid, each appearing as a bright ring with a dark interior.",
     "A SAR image of an industrial area with circular storage tanks arranged in a grid.",
     "A SAR image of storage tanks in a grid with bright rings."),
    ("bridge_0005.png",
     "A SAR image of a river crossed by a long bridge, the bridge appearing as a bright line with a double-bounce echo over the dark water.",
     "A SAR image of a river crossed by a bridge appearing as a bright line over dark water.",
     "A SAR image of a river and a road."),
    ("cars_0006.png",
     "A SAR image of a parking lot with many small bright car returns arranged in rows, surrounded by buildings with strong corner reflections.",
     "A SAR image of a parking lot with many cars arranged in rows next to buildings.",
     "A SAR image of a city area with buildings."),
    ("coast_0007.png",
     "A SAR image of a coastline with farmland on the left, the sea on the right and two small boats near the shore.",
     "A SAR image of a coastline with fields on the left and the sea on the right with two boats.",
     "A SAR image of a coast with the sea on the right."),
    ("urban_0008.png",
     "A SAR image of a dense urban area with bright building blocks, a dark river running from the top left to the bottom right and a bridge crossing it.",
     "A SAR image of an urban area with bright buildings and a dark river with a bridge.",
     "A SAR image of a town with buildings and a river."),
    ("ships_0009.png",
     "A SAR image of a busy anchorage with seven ships scattered over dark open water, the largest one in the upper left.",
     "A SAR image of open water with several ships scattered, the largest in the upper left.",
     "A SAR image of the sea with seven ships."),
    ("field_0010.png",
     "A SAR image of agricultural land with rectangular fields of varying brightness separated by straight dark roads.",
     "A SAR image of agricultural fields of varying brightness separated by roads.",
     "A SAR image of farmland."),
    ("runway_0011.png",
     "A SAR image of an airport with a long dark runway crossing the image from left to right and two aircraft near the terminal at the bottom.",
     "A SAR image of an airport with a dark runway from left to right and two aircraft at the bottom.",
     "A SAR image of an airport runway with aircraft."),
    ("dock_0012.png",
     "A SAR image of a shipyard with a large ship in a dry dock at the center and cranes producing bright linear returns.",
     "A SAR image of a shipyard with a ship in the center and bright cranes.",
     "A SAR image of a harbor with a ship."),
]

# image, application, question type, question, ground truth, answer A, answer B
QUESTIONS = [
    ("harbor_0001.png", "object_identification", "presence", "Is there a ship in the image?", "yes", "yes", "Yes."),
    ("harbor_0001.png", "object_identification", "presence", "Is there an aircraft in the image?", "no", "no", "not sure"),
    ("harbor_0001.png", "instance_counting", "count", "How many ships are there in the image?", "4", "3", "3"),
    ("harbor_0001.png", "object_positioning", "position", "Where is the harbor located in the image?", "top", "top", "upper part"),
    ("airport_0002.png", "object_classification", "predominant", "What is the predominant category in the image?", "aircraft", "airplane", "aircraft"),
    ("airport_0002.png", "instance_counting", "count", "How many aircraft are there in the image?", "6", "six", "16"),
    ("airport_0002.png", "region_referring", "box_category", "What is the object present in the area [120.0, 88.5, 40.0, 36.5]?", "aircraft", "aircraft", "plane"),
    ("airport_0002.png", "object_identification", "presence", "Is there a car in the image?", "no", "no", "yes"),
    ("sea_0003.png", "object_identification", "presence", "Is there a ship in the image?", "yes", "yes", "yes"),
    ("sea_0003.png", "instance_counting", "count", "How many ships are there in the image?", "1", "1", "10"),
    ("sea_0003.png", "object_positioning", "position", "Where is the ship located in the image?", "center", "center", "middle"),
    ("sea_0003.png", "others", "land_cover", "What is the predominant land cover in the image?", "water", "water", "sea"),
    ("tanks_0004.png", "object_classification", "predominant", "What is the predominant category in the image?", "tank", "storage tank", "tank"),
    ("tanks_0004.png", "instance_counting", "count", "How many tanks are there in the image?", "12", "12", "twelve"),
    ("tanks_0004.png", "others", "shape", "What is the shape of the tanks?", "circular", "circular", "round"),
    ("tanks_0004.png", "others", "pattern", "How are the tanks arranged?", "in a grid", "in a grid", "scattered"),
    ("bridge_0005.png", "object_identification", "presence", "Is there a bridge in the image?", "yes", "yes", "no"),
    ("bridge_0005.png", "region_referring", "box_category", "What is the object present in the area [10.0, 200.0, 380.0, 24.0]?", "bridge", "road", "road"),
    ("bridge_0005.png", "others", "direction", "In which direction does the bridge run?", "horizontal", "horizontal", "from left to right"),
    ("cars_0006.png", "object_classification", "predominant", "What is the predominant category in the image?", "car", "car", "cargo ship"),
    ("cars_0006.png", "instance_counting", "count", "How many cars are there in the image?", "23", "21", "20"),
    ("cars_0006.png", "object_positioning", "position", "Where are most cars located in the image?", "bottom", "bottom", "lower part"),
    ("coast_0007.png", "object_identification", "presence", "Is there a ship in the image?", "yes", "yes", "yes"),
    ("coast_0007.png", "instance_counting", "count", "How many ships are there in the image?", "2", "two", "2"),
    ("coast_0007.png", "object_positioning", "position", "Where is the sea located in the image?", "right", "right", "left"),
    ("coast_0007.png", "others", "land_cover", "What is the land cover on the left of the image?", "farmland", "cropland", "agricultural land"),
    ("urban_0008.png", "object_classification", "predominant", "What is the predominant category in the image?", "building", "building", "rooftop"),
    ("urban_0008.png", "object_identification", "presence", "Is there a bridge in the image?", "yes", "yes", "yes"),
    ("urban_0008.png", "region_referring", "box_category", "What is the object present in the area [300.5, 310.0, 60.0, 18.5]?", "bridge", "bridge", "bridge"),
    ("urban_0008.png", "others", "reasoning", "Is the river wider than the bridge is long?", "no", "yes", "yes"),
    ("ships_0009.png", "instance_counting", "count", "How many ships are there in the image?", "7", "8", "17"),
    ("ships_0009.png", "object_positioning", "position", "Where is the largest ship located in the image?", "top left", "upper left", "top"),
    ("ships_0009.png", "object_classification", "predominant", "What is the predominant category in the image?", "ship", "boat", "ship"),
    ("ships_0009.png", "region_referring", "box_category", "What is the object present in the area [52.0, 40.0, 64.0, 20.0]?", "ship", "ship", "harbor"),
    ("field_0010.png", "others", "land_cover", "What is the predominant land cover in the image?", "farmland", "farmland", "bare soil"),
    ("field_0010.png", "object_identification", "presence", "Is there an aircraft in the image?", "no", "no", "no"),
    ("field_0010.png", "others", "shape", "What is the shape of the fields?", "rectangular", "rectangular", "it is rectangular"),
    ("runway_0011.png", "instance_counting", "count", "How many aircraft are there in the image?", "2", "2", "1"),
    ("runway_0011.png", "object_positioning", "position", "Where are the aircraft located in the image?", "bottom", "bottom", "bottom"),
    ("runway_0011.png", "region_referring", "box_category", "What is the object present in the area [200.0, 420.0, 30.0, 28.0]?", "aircraft", "aircraft", "aircraft"),
    ("dock_0012.png", "object_identification", "presence", "Is there a harbor in the image?", "yes", "yes", "yes"),
    ("dock_0012.png", "object_classification", "predominant", "What is the predominant category in the image?", "ship", "ship", "harbor"),
    ("dock_0012.png", "others", "reasoning", "Are there more ships than cranes in the image?", "no", "no", "no"),
    ("dock_0012.png", "object_positioning", "position", "Where is the ship located in the image?", "center", "center", "centre"),
]

PROMPT = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>{}<|im_end|>\n<|im_start|>assistant\n"
CAPTION_PROMPT = "Describe the content of this image in one sentence."


def vqa_prompt(question: str) -> str:
    return f"Question: {question.rstrip('?')}?. Answer the question concisely."


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    random.seed(0)
    cap = HERE / "captions"
    vqa = HERE / "vqa"
    cap.mkdir(exist_ok=True)
    vqa.mkdir(exist_ok=True)
    records = [
        {"id": f"cap-{i:04d}", "image": image, "application": "image_description", "question": CAPTION_PROMPT,
         "answer": ref, "question_type": "caption_detailed", "caption_kind": "detailed", "split": "test",
         "source": "examples", "provenance": {"generator": "hand-written"}}
        for i, (image, ref, _a, _b) in enumerate(CAPTIONS)
    ]
    write_jsonl(cap / "records.jsonl", records)
    for model, col in (("model_a", 2), ("model_b", 3)):
        write_jsonl(cap / f"generated_predictions_{model}.jsonl",
                    [{"prompt": PROMPT.format(CAPTION_PROMPT), "predict": row[col], "label": row[1]} for row in CAPTIONS])
    qrecords = [
        {"id": f"vqa-{i:04d}", "image": image, "application": app, "question": q, "answer": gt,
         "question_type": qt, "split": "test", "source": "examples", "provenance": {"generator": "hand-written"}}
        for i, (image, app, qt, q, gt, _a, _b) in enumerate(QUESTIONS)
    ]
    write_jsonl(vqa / "records.jsonl", qrecords)
    for model, col in (("model_a", 5), ("model_b", 6)):
        write_jsonl(vqa / f"predictions_{model}.jsonl",
                    [{"id": r["id"], "prediction": row[col], "model": model} for r, row in zip(qrecords, QUESTIONS)])
    with (vqa / "VQA_result_model_b.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for image, _app, _qt, q, gt, _a, b in QUESTIONS:
            writer.writerow([image, b, q, gt])
    write_jsonl(vqa / "swift_infer_model_b.jsonl", [
        {"response": b, "labels": gt, "messages": [{"role": "user", "content": "<image>" + vqa_prompt(q)}], "images": [image]}
        for image, _app, _qt, q, gt, _a, b in QUESTIONS
    ])


if __name__ == "__main__":
    main()
