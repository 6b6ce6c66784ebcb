"""Dataset construction: question–answer pairs and captions from labelled scenes, splits, statistics."""
