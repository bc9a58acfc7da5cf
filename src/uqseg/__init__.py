"""uqseg: uncertainty quantification and entanglement in image segmentation."""

__version__ = "0.1.0"
