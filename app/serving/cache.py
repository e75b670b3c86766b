"""The result cache: key -> result, least recently used dropped beyond a byte budget (lesson results, chart specs).

No Streamlit here: the scheduler (scheduler.py) and the chart cache (charts.py) hold one each.
"""
from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import Any, Hashable

import numpy as np
import pandas as pd
import torch

CACHE_MB = 512  # bytes of lesson results kept (LRU)
CACHE_ENTRIES = 2048


def nbytes(obj: Any, depth: int = 0) -> int:
    """Rough memory of a lesson result (arrays, tables, nested dataclasses)."""
    if depth > 4:
        return 64
    if isinstance(obj, pd.DataFrame):
        objects = sum(1 for d in obj.dtypes if not isinstance(d, np.dtype) or d.kind == "O")
        return int(obj.memory_usage(index=True, deep=False).sum()) + 64 * objects * len(obj)
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj))
    if isinstance(obj, (tuple, list)):
        return sum(nbytes(x, depth + 1) for x in obj) + 8 * len(obj)
    if isinstance(obj, dict):
        return sum(nbytes(k, depth + 1) + nbytes(v, depth + 1) for k, v in obj.items())
    if isinstance(obj, str):
        return len(obj) + 50
    if isinstance(obj, (bytes, bytearray)):
        return len(obj) + 33
    return 64


class ResultCache:
    """key -> result, least recently used dropped beyond max_bytes / max_entries. Thread-safe."""

    def __init__(self, max_bytes: int = CACHE_MB * 2 ** 20, max_entries: int = CACHE_ENTRIES):
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key) -> tuple[bool, Any]:
        with self._lock:
            if key not in self._items:
                return False, None
            self._items.move_to_end(key)
            return True, self._items[key][0]

    def put(self, key, value, size: int | None = None) -> None:
        size = nbytes(value) if size is None else int(size)
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._items and (self._bytes > self.max_bytes or len(self._items) > self.max_entries):
                old = next(iter(self._items))
                if old == key and len(self._items) == 1:
                    break
                self._bytes -= self._items.pop(old)[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items
