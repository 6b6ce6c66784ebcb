"""Readers and writers of the file formats sarlang exchanges with other tools."""
