"""A two-tower model in PyTorch (the optional extra ``launchpoint[torch]``).

Item tower: an item's own embedding plus the mean embedding of its categories, so an item
with categories but no behaviour still has a vector. User tower: a linear map of the mean
embedding of the user's history items, so any history (a new user's too) gives a vector.
Trained with in-batch softmax: each step takes users, splits each one's liked items at
random into an input half and a target, and asks the user vector to pick its target out of
the batch's targets. After training both towers are kept as numpy arrays: serving, saving
and loading need no torch, and scoring is one matrix product (vector similarity).
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from scipy import sparse

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.base import HistoryConfig, Scorer
from launchpoint.recommenders.data import FloatArray, IntArray, TrainingData

EXTRA_HINT = "pip install 'launchpoint[torch]'"


class TwoTowerConfig(HistoryConfig):
    embedding_size: int = Field(64, ge=2, description="Width of user and item vectors.")
    epochs: int = Field(30, ge=1, description="Passes over the users.")
    reg: float = Field(1e-6, ge=0, description="Weight decay of every parameter.")
    learning_rate: float = Field(0.01, gt=0, description="Adam step size.")
    batch_size: int = Field(256, ge=2, description="Users per step (and in-batch negatives).")
    temperature: float = Field(0.1, gt=0, description="Softmax temperature of the logits.")
    threads: int = Field(1, ge=1, description="Torch CPU threads.")


def _torch() -> Any:
    try:
        torch = importlib.import_module("torch")
    except ImportError as exc:
        raise InvalidInput(f"the two_tower family needs PyTorch: {EXTRA_HINT}") from exc
    return torch


class TwoTowerScorer(Scorer[TwoTowerConfig]):
    family: ClassVar[str] = "two_tower"
    config_class = TwoTowerConfig

    def _fit(self, data: TrainingData) -> None:
        torch = _torch()
        c = self.config
        torch.manual_seed(c.seed)
        torch.set_num_threads(c.threads)
        rng = np.random.default_rng(c.seed)
        n_items, dim = data.n_items, c.embedding_size
        cats = data.item_categories.tocsr()
        net = _Towers(torch, n_items, cats.shape[1], dim)
        optimiser = torch.optim.Adam(net.parameters(), lr=c.learning_rate, weight_decay=c.reg)
        liked = data.positive
        users = np.flatnonzero(np.diff(liked.indptr) >= 2)  # one to hide, one to see
        share = (np.bincount(liked.indices, minlength=n_items) + 1.0) / (liked.nnz + n_items)
        log_share = torch.as_tensor(np.log(share), dtype=torch.float32)
        cat_index = torch.as_tensor(cats.indices, dtype=torch.long)
        cat_offsets = torch.as_tensor(cats.indptr[:-1], dtype=torch.long)
        for _ in range(c.epochs):
            order = rng.permutation(users)
            for start in range(0, len(order), c.batch_size):
                batch = order[start : start + c.batch_size]
                inputs, offsets, targets = _sample(liked, batch, rng)
                item_table = net.items(cat_index, cat_offsets)
                user_vectors = net.users(
                    torch.as_tensor(inputs, dtype=torch.long),
                    torch.as_tensor(offsets, dtype=torch.long),
                )
                target_vectors = item_table[torch.as_tensor(targets, dtype=torch.long)]
                logits = user_vectors @ target_vectors.T / c.temperature
                # logQ correction: a popular item is a negative in many batches by chance
                # alone; without this the model learns to push popular items down.
                logits = logits - log_share[torch.as_tensor(targets, dtype=torch.long)][None, :]
                # Two users of a batch may share a target: both count as right.
                same = torch.as_tensor(targets[:, None] == targets[None, :])
                logits = logits.masked_fill(
                    same & ~torch.eye(len(targets), dtype=torch.bool), float("-inf")
                )
                loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(targets)))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        with torch.no_grad():
            self.item_vectors = net.items(cat_index, cat_offsets).numpy().astype(np.float64)
            self.input_vectors = net.history.weight.numpy().astype(np.float64)
            self.user_map = net.user_map.weight.numpy().astype(np.float64).T
            self.user_bias = net.user_map.bias.numpy().astype(np.float64)
            self.category_vectors = net.categories.weight.numpy().astype(np.float64)

    def _user_vectors(self, rows: sparse.csr_matrix) -> FloatArray:
        liked = rows.copy()
        liked.data = np.clip(liked.data, 0.0, None)
        totals = np.asarray(liked.sum(axis=1)).ravel()
        mean = np.asarray(liked @ self.input_vectors) / np.maximum(totals, 1e-12)[:, None]
        return np.asarray(mean @ self.user_map + self.user_bias)

    def _score_rows(self, rows: sparse.csr_matrix, candidates: IntArray) -> FloatArray:
        return np.asarray(self._user_vectors(rows) @ self.item_vectors[candidates].T)

    def _related(self, item: int, candidates: IntArray) -> FloatArray:
        vectors = self.item_vectors[candidates]
        norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(self.item_vectors[item])
        dots = vectors @ self.item_vectors[item]
        result: FloatArray = np.divide(dots, norms, out=np.zeros(len(candidates)), where=norms > 0)
        return result

    def new_item_vectors(self, item_categories: sparse.csr_matrix) -> FloatArray:
        """Vectors of items known only by their categories (items x trained categories):
        the category half of the item tower."""
        cats = sparse.csr_matrix(item_categories, dtype=np.float64)
        counts = np.asarray(cats.sum(axis=1)).ravel()
        result: FloatArray = (
            np.asarray(cats @ self.category_vectors) / np.maximum(counts, 1.0)[:, None]
        )
        return result


def _sample(
    liked: sparse.csr_matrix, users: IntArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray, IntArray]:
    """Per user: one liked item as the target, a random half of the others as input."""
    inputs, offsets, targets = [], [], []
    at = 0
    for user in users.tolist():
        items = liked.indices[liked.indptr[user] : liked.indptr[user + 1]]
        target = int(rng.integers(len(items)))
        rest = np.delete(items, target)
        seen = rest[rng.random(len(rest)) < 0.5]
        if len(seen) == 0:
            seen = rest[:1]
        inputs.append(seen)
        offsets.append(at)
        at += len(seen)
        targets.append(items[target])
    return (
        np.concatenate(inputs).astype(np.intp),
        np.array(offsets, dtype=np.intp),
        np.array(targets, dtype=np.intp),
    )


class _Towers:
    """The two towers' parameters, as plain torch modules (built only when torch is here)."""

    def __init__(self, torch: Any, n_items: int, n_categories: int, dim: int) -> None:
        nn = torch.nn
        self.torch = torch
        self.own = nn.Embedding(n_items, dim)
        self.categories = nn.Embedding(max(n_categories, 1), dim)
        self.history = nn.Embedding(n_items, dim)
        self.user_map = nn.Linear(dim, dim)
        for table in (self.own, self.categories, self.history):
            nn.init.normal_(table.weight, std=0.1)
        self.modules = [self.own, self.categories, self.history, self.user_map]

    def parameters(self) -> list[Any]:
        return [p for module in self.modules for p in module.parameters()]

    def items(self, cat_index: Any, cat_offsets: Any) -> Any:
        f = self.torch.nn.functional
        if cat_index.numel() == 0:
            return self.own.weight
        bags = f.embedding_bag(cat_index, self.categories.weight, cat_offsets, mode="mean")
        return self.own.weight + bags

    def users(self, inputs: Any, offsets: Any) -> Any:
        f = self.torch.nn.functional
        return self.user_map(f.embedding_bag(inputs, self.history.weight, offsets, mode="mean"))
