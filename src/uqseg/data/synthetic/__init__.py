"""The embedded synthetic multi-annotator benchmarks: ``synthetic-lidc`` and ``synthetic-chaksu``.

Both draw their annotators from a known model (:mod:`uqseg.data.synthetic.annotators`), so each split carries the
exact annotator distribution (``oracle``). See docs/datasets.md, "Synthetic datasets".
"""
