"""Hub data sets: ``hf://OWNER/NAME[:CONFIG][@SPLIT]`` and local data set folders, as one Parquet file.

Through ``huggingface_hub`` (the download: ``snapshot_download`` of the data files only) and
``datasets`` (a ``save_to_disk`` folder: ``load_from_disk``); no hand-written HTTP. Two local
layouts are read:

- a ``datasets`` ``save_to_disk`` folder (``dataset_info.json`` + Arrow files, or a
  ``dataset_dict.json`` with one folder per split);
- a hub repository layout with Parquet files: ``[CONFIG/]SPLIT-*.parquet``, ``data/SPLIT-*.parquet``,
  ``[CONFIG/]SPLIT/*.parquet`` (the hub's Parquet conversion), or a single split's files.

The selected split is written once to ``<workdir>/<name>-<split>-<hash>.parquet`` (the hash of the
source files, so a re-import of unchanged data is the same file and a no-op) and imported like
any Parquet file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from prm_viewer.errors import ImportFailed, MissingDependency

_REF = re.compile(r"^hf://(?P<repo>[\w.-]+/[\w.-]+)(?::(?P<config>[\w.-]+))?(?:@(?P<split>[\w.-]+))?$")


@dataclass(frozen=True)
class HubRef:
    """A parsed ``hf://OWNER/NAME[:CONFIG][@SPLIT]``."""

    repo: str
    config: str | None
    split: str | None


def parse_ref(ref: str) -> HubRef:
    """``hf://owner/name:config@split`` -> :class:`HubRef`; a one-line error otherwise."""
    m = _REF.match(ref.strip())
    if m is None:
        raise ImportFailed(ref, None, None, "expected hf://OWNER/NAME[:CONFIG][@SPLIT]")
    return HubRef(m["repo"], m["config"], m["split"])


def is_dataset_folder(path: Path) -> bool:
    """True for a folder in one of the layouts this module reads."""
    if not path.is_dir():
        return False
    return (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() or any(path.rglob("*.parquet"))


def download(ref: HubRef) -> Path:
    """The repository's data files in the local hub cache (downloads what is missing)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise MissingDependency("huggingface_hub", "pip install huggingface_hub", "hf:// imports") from None
    try:
        return Path(snapshot_download(ref.repo, repo_type="dataset",
                                      allow_patterns=["*.parquet", "*.json", "*.arrow", "*.md"]))
    except Exception as exc:  # network, auth, missing repo: one line for the user  # noqa: BLE001
        raise ImportFailed(f"hf://{ref.repo}", None, None, f"cannot download the data set ({type(exc).__name__}: "
                                                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def to_parquet(folder: Path, config: str | None, split: str | None, workdir: Path, label: str) -> Path:
    """One split of a local data set folder as a single Parquet file in ``workdir``."""
    if (folder / "dataset_info.json").exists() or (folder / "dataset_dict.json").exists():
        return _from_saved(folder, split, workdir, label)
    files = _parquet_files(folder, config, split, label)
    digest = _digest(files)
    out = workdir / f"{_safe(label)}-{split or 'all'}-{digest}.parquet"
    if not out.exists():
        import pyarrow.parquet as pq

        workdir.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".partial")
        schema = pq.read_schema(files[0])
        with pq.ParquetWriter(tmp, schema) as writer:
            for f in files:
                for batch in pq.ParquetFile(f).iter_batches():
                    writer.write_batch(batch)
        tmp.replace(out)
    return out


def _from_saved(folder: Path, split: str | None, workdir: Path, label: str) -> Path:
    try:
        import datasets
    except ImportError:
        raise MissingDependency("datasets", "pip install datasets", "reading a save_to_disk folder") from None
    loaded = datasets.load_from_disk(str(folder))
    if isinstance(loaded, datasets.DatasetDict):
        names = list(loaded)
        if split is None and len(names) == 1:
            split = names[0]
        if split not in loaded:
            raise ImportFailed(label, None, "split", f"choose a split with @SPLIT; splits: {', '.join(names)}")
        ds = loaded[split]
    else:
        ds = loaded
    files = sorted(folder.rglob("*.arrow"))
    out = workdir / f"{_safe(label)}-{split or 'all'}-{_digest(files)}.parquet"
    if not out.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".partial")
        ds.to_parquet(str(tmp))
        tmp.replace(out)
    return out


def _parquet_files(folder: Path, config: str | None, split: str | None, label: str) -> list[Path]:
    roots = [folder / config] if config else [folder / "data", folder / "default", folder]
    if config and not roots[0].is_dir():
        configs = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        raise ImportFailed(label, None, "config", f"no config '{config}'; configs: {', '.join(configs) or 'none'}")
    for root in roots:
        if not root.is_dir():
            continue
        all_files = sorted(root.rglob("*.parquet"))
        if not all_files:
            continue
        if split is None:
            splits = sorted({_split_of(f, root) for f in all_files})
            if len(splits) > 1:
                raise ImportFailed(label, None, "split", f"choose a split with @SPLIT; splits: {', '.join(splits)}")
            return all_files
        chosen = [f for f in all_files if _split_of(f, root) == split]
        if chosen:
            return chosen
        splits = sorted({_split_of(f, root) for f in all_files})
        raise ImportFailed(label, None, "split", f"no split '{split}'; splits: {', '.join(splits)}")
    raise ImportFailed(label, None, None, "no Parquet files in the data set folder")


def _split_of(f: Path, root: Path) -> str:
    rel = f.relative_to(root)
    if len(rel.parts) > 1:
        return rel.parts[0]  # SPLIT/0000.parquet
    return re.split(r"[-.]", f.name, maxsplit=1)[0]  # SPLIT-00000-of-00001.parquet


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()[:12]


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label.removeprefix("hf://")).strip("._") or "dataset"


def resolve(source: str | Path, workdir: Path) -> Path:
    """A file to import for ``source``: an ``hf://`` reference (downloaded), a data set folder
    (converted), or the path itself."""
    text = str(source)
    if text.startswith("hf://"):
        ref = parse_ref(text)
        return to_parquet(download(ref), ref.config, ref.split, workdir, text)
    path, split = Path(source), None
    if not path.exists() and "@" in text:
        head, _, tail = text.rpartition("@")
        if Path(head).is_dir():
            path, split = Path(head), tail  # FOLDER@SPLIT
    if path.is_dir() and is_dataset_folder(path):
        return to_parquet(path, None, split, workdir, path.name)
    return path
