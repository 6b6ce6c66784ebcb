"""Prediction files of other tools, one module each (see :mod:`sarlang.formats.predictions`).

Each module defines ``detect(data, path) -> bool`` (whether a file is in its format, from its
suffix and first row; modules are asked in the order of their ``PRIORITY``, lowest first) and
``rows(data, path, rejects, notes) -> list[Row]`` (one ``(row number, prediction, label or None,
question, image)`` per usable row; bad rows become rejects). ``JOIN = "image_question"`` joins
rows to records by image and question instead of by content; ``CAPTIONS = False`` says the format
holds no captions. A format whose rows carry record ids sets ``JOIN = "id"``, and its ``rows`` gives
``(row number, record id, prediction)`` (:data:`sarlang.formats.predictions.IdRow`) instead. Other packages add formats through the entry-point group
``sarlang.prediction_formats``.
"""
