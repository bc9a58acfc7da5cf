"""Conversion of downloaded datasets (LIDC-IDRI 2D, Chákṣu IMAGE) into uqseg's prepared format (docs/method.md §8)."""
