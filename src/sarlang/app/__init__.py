"""The web pages of sarlang (gradio, the ``app`` extra): the demo (:mod:`sarlang.app.web`) and the
human-baseline questionnaire (:mod:`sarlang.app.human`). Nothing else in sarlang imports them."""
