"""Building frames column by column, in chunks (see the comment below)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .schemas import CAT, CATEGORY_SEEDS, STR, STR_DTYPE

# --- column builders -------------------------------------------------------------------
# Rows are gathered in chunks of Python tuples; each full chunk is turned into
# compact arrays column by column (category codes, machine integers,
# datetime64), so building a frame never holds a Python object per cell for
# the whole log, and the per-cell work runs in numpy/pandas, not in Python.

CHUNK = 1 << 15
"""Rows per chunk."""

_Array = np.ndarray[Any, Any]


def _objects(values: Sequence[Any]) -> tuple[_Array, _Array]:
    """Values as an object array, and where they are missing (None)."""
    data = np.empty(len(values), dtype=object)
    data[:] = values
    return data, pd.isna(data)


class _Category:
    def __init__(self, seed: Sequence[str]) -> None:
        self.index: dict[str, int] = {value: i for i, value in enumerate(seed)}
        self.seeded = bool(seed)
        self.chunks: list[_Array] = []

    def extend(self, values: Sequence[str | None]) -> None:
        data, _ = _objects(values)
        codes, uniques = pd.factorize(data)  # missing values get code -1
        index = self.index
        remap = np.empty(len(uniques) + 1, dtype=np.int32)
        for i, value in enumerate(uniques):
            code = index.get(value)
            if code is None:
                code = index[value] = len(index)
            remap[i] = code
        remap[-1] = -1  # code -1 indexes the last slot
        self.chunks.append(remap[codes])

    def build(self) -> pd.Categorical:
        codes = np.concatenate(self.chunks) if self.chunks else np.empty(0, np.int32)
        values = list(self.index)
        if not self.seeded and values:
            # Unseeded categories sort, so a frame's categories do not depend on line order.
            order = np.array(sorted(range(len(values)), key=values.__getitem__), dtype=np.int64)
            remap = np.empty(len(values) + 1, dtype=np.int32)
            remap[order] = np.arange(len(values), dtype=np.int32)
            remap[-1] = -1
            codes = remap[codes]
            values = [values[i] for i in order]
        return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=STR_DTYPE))


class _Numbers:
    def __init__(self, dtype: str) -> None:
        self.dtype = dtype
        self.nullable = dtype[0].isupper() or dtype == "boolean"
        self.numpy_dtype = "bool" if dtype == "boolean" else dtype.lower()
        self.chunks: list[_Array] = []
        self.masks: list[_Array] = []

    def extend(self, values: Sequence[Any]) -> None:
        if not self.nullable:
            self.chunks.append(np.array(values, dtype=self.numpy_dtype))
            return
        data, missing = _objects(values)
        data[missing] = 0
        self.chunks.append(data.astype(self.numpy_dtype))
        self.masks.append(missing)

    def build(self) -> Any:
        values = (np.concatenate(self.chunks) if self.chunks
                  else np.empty(0, dtype=self.numpy_dtype))
        if not self.nullable:
            return values
        mask = np.concatenate(self.masks) if self.masks else np.empty(0, dtype=bool)
        if self.dtype == "boolean":
            return pd.arrays.BooleanArray(values, mask)
        return pd.arrays.IntegerArray(values, mask)


class _Strings:
    def __init__(self) -> None:
        self.values: list[str | None] = []

    def extend(self, values: Sequence[str | None]) -> None:
        self.values.extend(values)

    def build(self) -> Any:
        return pd.array(self.values, dtype=STR_DTYPE)


_Builder = _Category | _Numbers | _Strings


def _builder(name: str, dtype: str) -> _Builder:
    if dtype == CAT:
        return _Category(CATEGORY_SEEDS.get(name, ()))
    if dtype == STR:
        return _Strings()
    return _Numbers(dtype)  # ints, nullable ints, floats, bools, datetime64


class Table:
    """Rows in, a DataFrame with exactly ``schema``'s columns and dtypes out."""

    def __init__(self, schema: dict[str, str]) -> None:
        self.schema = schema
        self.columns = [_builder(name, dtype) for name, dtype in schema.items()]
        self.rows: list[Sequence[Any]] = []
        self.add = self.rows.append
        """Append one row: values in schema order (None for missing)."""

    def _flush(self) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows, strict=True))
        if len(columns) != len(self.columns):
            raise ValueError(f"rows have {len(columns)} values, the schema {len(self.columns)}")
        for builder, values in zip(self.columns, columns, strict=True):
            builder.extend(values)
        self.rows.clear()

    def add_all(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append many rows."""
        rows_list = self.rows
        for row in rows:
            rows_list.append(row)
            if len(rows_list) >= CHUNK:
                self._flush()

    def frame(self) -> pd.DataFrame:
        """The DataFrame (call once)."""
        self._flush()
        columns = zip(self.schema, self.columns, strict=True)
        data = {name: column.build() for name, column in columns}
        frame = pd.DataFrame(data, columns=list(self.schema))
        # A no-op on the right dtypes; a guard otherwise.
        return frame.astype({name: STR_DTYPE if dtype == STR else dtype
                             for name, dtype in self.schema.items()})
