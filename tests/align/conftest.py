"""Real photographs for the alignment tests, fetched from the package registry (never committed).

The ``face_recognition`` 1.3.0 source distribution ships public-domain portraits (U.S. government
works) in ``tests/test_images``. They are fetched once with ``pip download`` into a cache folder
(``$CLUSTERFACE_TEST_CACHE``, default ``~/.cache/clusterface-tests``); without network access or the
detector the tests that need them skip with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

FR_VERSION = "1.3.0"
PHOTOS = (
    "32bit.png",
    "biden.jpg",
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
)


def _cache() -> Path:
    return Path(os.environ.get("CLUSTERFACE_TEST_CACHE", Path.home() / ".cache" / "clusterface-tests"))


def fetch_photos() -> Path:
    """The folder of the sdist's test photos (downloaded and unpacked on first use)."""
    cache = _cache()
    out = cache / f"face_recognition-{FR_VERSION}-photos"
    if all((out / p).is_file() for p in PHOTOS):
        return out
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"face_recognition-{FR_VERSION}.tar.gz"
    if not sdist.is_file():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"face_recognition=={FR_VERSION}",
            "-d",
            str(cache),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not sdist.is_file():
            raise RuntimeError(f"pip download face_recognition=={FR_VERSION} failed: {proc.stderr.strip()[-500:]}")
    tmp = cache / f".photos-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    with tarfile.open(sdist) as tar:
        for name in PHOTOS:
            member = tar.getmember(f"face_recognition-{FR_VERSION}/tests/test_images/{name}")
            data = tar.extractfile(member)
            assert data is not None
            (tmp / name).write_bytes(data.read())
    tmp.rename(out) if not out.exists() else None
    return out


@pytest.fixture(scope="session")
def photos() -> Path:
    try:
        return fetch_photos()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"test photographs unavailable (needs the package registry once): {err}")


@pytest.fixture(scope="session")
def detector():
    from clusterface.align import DlibDetector, detector_available

    why = detector_available()
    if why is not None:
        pytest.skip(f"face detector not installed: {why}")
    return DlibDetector()


@pytest.fixture(scope="session")
def small_model(tmp_path_factory: pytest.TempPathFactory):
    """An exported (untrained) cfnet_s, loaded: enough to exercise the photo pipeline."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "export"))
    from export_helpers import make_checkpoint

    import clusterface
    from clusterface.export import export_checkpoint

    base = tmp_path_factory.mktemp("model")
    export_checkpoint(make_checkpoint(base / "last.pt", sharded=False), base / "exported", parity=False)
    return clusterface.load(base / "exported")
