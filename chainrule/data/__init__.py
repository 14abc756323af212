"""Data loading: Dataset, TensorDataset, Subset, ConcatDataset, random_split and DataLoader.

    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True, seed=0)
    for xb, yb in loader: ...          # one epoch

batch_size is the switch between batch (len(dataset)), mini-batch and stochastic (1) gradient
descent; see chainrule.data.dataloader for the trade-offs.
"""

from chainrule.data.dataloader import DataLoader, default_collate
from chainrule.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split

__all__ = ["ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate",
           "random_split"]
