"""MovieLens-style data: fetch, load, split."""

from cascade.data.dataset import Catalog, Dataset, Interactions, Users
from cascade.data.split import Split, split_by_user

__all__ = ["Catalog", "Dataset", "Interactions", "Split", "Users", "split_by_user"]
