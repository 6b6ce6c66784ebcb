"""Scoring: caption metrics, VQA matching and judges, significance tests, tables."""
