"""Reading, encoding and splitting interaction data."""

from recbench.data.interactions import Interactions, SplitData

__all__ = ["Interactions", "SplitData"]
