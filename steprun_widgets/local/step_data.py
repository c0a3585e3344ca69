"""Data a step reads that is not another step's folder: datastore references and datasets.

v1 spells a step's data in many ways: ``DataReference``, ``datastore.path(...).as_mount()``,
``(DataPath, DataPathComputeBinding)``, ``dataset.as_named_input(name).as_mount()``,
``PipelineData.as_dataset().parse_delimited_files()``, ``OutputFileDatasetConfig.read_delimited_files()``.
:func:`data_input` turns each into one thing with an ``input_name`` and a ``step_input(workspace)``
(plain JSON for the plan). The runner (``execute._prepare_data``) downloads it into the step's
folder through the tracking server before the script starts, so a step on a Dask worker gets its
data without a shared folder.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from steprun_widgets.core.dataset import DatasetConsumptionConfig, consumption
from steprun_widgets.core.datastore import DataPath, DataPathComputeBinding, DataReference, Datastore
from steprun_widgets.errors import StepRunError

if TYPE_CHECKING:
    from steprun_widgets.local.pipeline import PipelineData


class PipelineOutputDataset:
    """Another step's output read as a dataset (v1's ``PipelineOutputFileDataset`` /
    ``PipelineOutputTabularDataset`` / ``OutputTabularDatasetConfig``): the step gets the
    producer's folder, and ``Run.get_context().input_datasets[name]`` is that folder's path (a file
    dataset mounted or downloaded) or a TabularDataset reading it."""

    def __init__(self, data: PipelineData, kind: str = "file", fmt: dict | None = None,
                 name: str | None = None, mode: str | None = None) -> None:
        self.data = data
        self.kind = kind
        self.format = fmt
        self.name = name
        self.mode = mode or ("direct" if kind == "tabular" else "mount")

    @property
    def input_name(self) -> str:
        return self.name or self.data.name

    def _copy(self, **changes: Any) -> PipelineOutputDataset:
        args = {"kind": self.kind, "fmt": self.format, "name": self.name, "mode": self.mode, **changes}
        return PipelineOutputDataset(self.data, args["kind"], args["fmt"], args["name"], args["mode"])

    def as_named_input(self, name: str) -> PipelineOutputDataset:
        return self._copy(name=name)

    def as_input(self, name: str | None = None) -> PipelineOutputDataset:
        return self._copy(name=name or self.name)

    def as_mount(self, path_on_compute: str | None = None) -> PipelineOutputDataset:
        return self._copy(mode="mount")

    def as_download(self, path_on_compute: str | None = None) -> PipelineOutputDataset:
        return self._copy(mode="download")

    def parse_delimited_files(self, include_path: bool = False, separator: str = ",",
                              header: Any = True, partition_format: str | None = None,
                              file_extension: str = "", set_column_types: Any = None,
                              quoted_line_breaks: bool = False) -> PipelineOutputDataset:
        fmt = {"type": "delimited", "separator": separator,
               "header": header not in (False, "no_header", "NO_HEADER"), "encoding": "utf-8"}
        return self._copy(kind="tabular", fmt=fmt, mode="direct")

    read_delimited_files = parse_delimited_files

    def parse_parquet_files(self, include_path: bool = False, partition_format: str | None = None,
                            file_extension: str = ".parquet", set_column_types: Any = None
                            ) -> PipelineOutputDataset:
        return self._copy(kind="tabular", fmt={"type": "parquet"}, mode="direct")

    read_parquet_files = parse_parquet_files

    def register_on_complete(self, name: str, description: str | None = None,
                             tags: dict[str, str] | None = None) -> PipelineOutputDataset:
        """Register the producer's output as dataset ``name`` once it has finished (see
        OutputFileDatasetConfig.register_on_complete)."""
        self.data._registration = {"name": name, "description": description, "tags": dict(tags or {}),
                                   "kind": self.kind, "format": self.format}
        return self

    def step_input(self, workspace: Any = None) -> dict:
        definition = {"kind": self.kind, "sources": []}
        if self.format:
            definition["format"] = self.format
        return {"name": self.input_name, "mode": self.mode, "kind": self.kind,
                "sources": [{"pipeline_data": self.data.name}], "definition": definition,
                "registered": None, "version": None}

    def __repr__(self) -> str:
        return f"PipelineOutputDataset({self.data.name!r}, kind={self.kind!r}, name={self.input_name!r})"


def data_input(item: Any) -> Any:
    """A step input from a datastore or a dataset, in one form (``input_name``, ``step_input``), or
    None when ``item`` is none of those."""
    if isinstance(item, PipelineOutputDataset):
        return item
    if isinstance(item, DataReference):
        return _Reference(item)
    if isinstance(item, Datastore):
        return _Reference(item.as_mount())
    if isinstance(item, DataPath):
        return _Reference(item.create_data_reference())
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], DataPathComputeBinding):
        path = item[0]
        default = getattr(path, "default_value", None)  # a PipelineParameter holding a DataPath
        if not isinstance(path, DataPath) and isinstance(default, DataPath):
            path = default
        if not isinstance(path, DataPath):
            raise StepRunError(f"Step input {item!r}: (DataPath, DataPathComputeBinding) needs a DataPath "
                               "(or a PipelineParameter whose default is one) first")
        return _Reference(path.create_data_reference(getattr(item[0], "name", None), item[1]))
    found = consumption(item)
    if found is not None:
        return _Dataset(found)
    return None


class _Reference:
    def __init__(self, ref: DataReference) -> None:
        self.ref = ref
        self.input_name = ref.data_reference_name

    def step_input(self, workspace: Any = None) -> dict:
        return self.ref.step_input(workspace)


class _Dataset:
    def __init__(self, config: DatasetConsumptionConfig) -> None:
        self.config = config
        self.input_name = config.name

    def step_input(self, workspace: Any = None) -> dict:
        return self.config.step_input(workspace)


def new_output_name() -> str:
    return f"output_{uuid.uuid4().hex[:8]}"
