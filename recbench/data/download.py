"""Downloads that can be trusted: checked against a sha256, extracted safely, never half-written.

A download goes to a temporary file that is renamed to its final name only after the whole
transfer arrived and its sha256 matches. Extraction happens in a temporary folder that is renamed
into place only when complete, and refuses archive entries that would land outside it. So a
failed or interrupted download never leaves anything a later run would take for a valid copy.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import urllib.parse
import zipfile
from pathlib import Path, PurePosixPath

from recbench.errors import RecbenchError
from recbench.results import umask_mode

log = logging.getLogger(__name__)
CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def check_url(url: str, sha256: str | None) -> None:
    """Refuse a download source that could hand over something other than the dataset.

    ``https`` is accepted; plain ``http`` only with a pinned sha256 (anyone on the path can
    change the bytes); any other scheme (``file:``, ``ftp:``, ``data:``...) never, since it
    reads local files or fetches things no dataset entry needs.

    Raises:
        RecbenchError: naming ``dataset.url`` / ``dataset.sha256`` and the fix.
    """
    scheme = urllib.parse.urlsplit(str(url)).scheme.lower()
    if scheme == "https" or (scheme == "http" and sha256):
        return
    if scheme == "http":
        raise RecbenchError(f"dataset.url {url!r} is plain http and dataset.sha256 is not set: the file could be "
                            "changed in transit. Use an https url, or pin dataset.sha256 to the file's known digest")
    raise RecbenchError(f"dataset.url {url!r} has the scheme {scheme or '(none)'!r}: only https (or http with "
                        "dataset.sha256) is downloaded. For a local copy set dataset.path to its folder instead")


def download_file(url: str, dest: Path, sha256: str | None, progress: bool | None = None,
                  timeout: float = 60) -> Path:
    """Download ``url`` to ``dest``, renaming it into place only when complete and verified.

    Args:
        url: what to fetch.
        dest: the final file.
        sha256: the expected hex digest; None accepts any content (logged with its digest).
        progress: show a progress bar (None: only on a terminal).
        timeout: seconds to wait for the server.

    Raises:
        RecbenchError: a refused url (see :func:`check_url`), the server could not be reached, the
            transfer was cut short, or the checksum differs. Nothing is left at ``dest`` in any of
            these cases.
    """
    from tqdm import tqdm

    check_url(url, sha256)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    digest = hashlib.sha256()
    received = 0
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            check_url(response.geturl(), sha256)  # a redirect must not downgrade to plain http
            length = response.headers.get("Content-Length")
            expected = int(length) if length is not None else None
            with tqdm(total=expected, unit="B", unit_scale=True, desc=dest.name,
                      disable=None if progress is None else not progress) as bar:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
        if expected is not None and received != expected:
            raise RecbenchError(f"the download of {url} was cut short: {received} of {expected} bytes "
                                "arrived. Run again to retry")
        actual = digest.hexdigest()
        if sha256 is None:
            log.warning("%s has no sha256 in its config, so it was not verified; its sha256 is %s: "
                        "set dataset.sha256 to pin it", url, actual)
        elif actual != sha256.lower():
            raise RecbenchError(f"the sha256 of {url} is {actual}, expected {sha256}: the file is not the "
                                "one the config names (changed upstream, or tampered with). Nothing was kept")
        os.chmod(tmp, umask_mode())  # mkstemp's 0600 would follow the file into the dataset folder
        os.replace(tmp, dest)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise RecbenchError(f"could not download {url}: {getattr(error, 'reason', error)}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest


def _check_member(name: str, target: Path, archive: Path) -> None:
    """Refuse an entry whose path is absolute or climbs out of ``target``."""
    pure = PurePosixPath(name.replace("\\", "/"))
    resolved = (target / pure).resolve()
    if pure.is_absolute() or ".." in pure.parts or not resolved.is_relative_to(target.resolve()):
        raise RecbenchError(f"{archive} holds the entry {name!r}, which would land outside the "
                            "extraction folder; refusing to extract it. The archive is not trustworthy")


def extract_archive(archive: Path, target: Path) -> None:
    """Extract a zip or tar archive into ``target`` after checking every entry.

    Refuses absolute paths, ``..`` components and links (symbolic or hard), which could write
    outside ``target``.

    Raises:
        RecbenchError: an unsafe entry, or a file that is not a zip or tar archive.
    """
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                _check_member(info.filename, target, archive)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise RecbenchError(f"{archive} holds a link {info.filename!r}; refusing to extract it")
            zipped.extractall(target)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tarred:
            for member in tarred.getmembers():
                _check_member(member.name, target, archive)
                if not (member.isfile() or member.isdir()):
                    raise RecbenchError(f"{archive} holds {member.name!r}, which is a link or device; "
                                        "refusing to extract it")
            tarred.extractall(target, filter="data")
    else:
        raise RecbenchError(f"{archive} is neither a zip nor a tar archive: check the dataset's url")


def inside_archive(extracted: Path, archive_root: str | None) -> Path:
    """The folder ``archive_root`` of an extracted archive, refused if it leads anywhere else.

    Raises:
        RecbenchError: an absolute ``archive_root``, or one that climbs out (``..``, links).
    """
    root = (extracted / (archive_root or "")).resolve()
    if (archive_root and Path(archive_root).is_absolute()) or not root.is_relative_to(extracted.resolve()):
        raise RecbenchError(f"dataset.archive_root {archive_root!r} leads outside the extracted archive: give "
                            "the folder inside the archive that holds the files (e.g. ml-1m), or null")
    return root


def fetch(url: str, sha256: str | None, target: Path, downloads: Path, archive_root: str | None = None,
          progress: bool | None = None) -> Path:
    """Download (unless a verified copy is cached), extract, and move the files to ``target``.

    Args:
        url: the archive (zip/tar) or a single data file (``.csv``, ``.json.gz``...).
        sha256: its expected digest, or None.
        target: the dataset folder to create; must not exist yet.
        downloads: where downloaded archives are kept (reused when their sha256 matches).
        archive_root: the folder inside the archive that holds the files (``ml-1m``), or None.
        progress: show a progress bar (None: only on a terminal).

    Returns:
        ``target``, complete.
    """
    check_url(url, sha256)
    archive = downloads / Path(urllib.request.url2pathname(url.rsplit("/", 1)[-1].split("?")[0])).name
    # Without a sha256 a file already in downloads/ cannot be told from anything else put there
    # under that name, so only a verified copy is reused.
    if not (archive.is_file() and sha256 is not None and sha256_of(archive) == sha256.lower()):
        download_file(url, archive, sha256, progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        if zipfile.is_zipfile(archive) or tarfile.is_tarfile(archive):
            extract_archive(archive, staging / "x")
            root = inside_archive(staging / "x", archive_root)
            if not root.is_dir():
                raise RecbenchError(f"{archive} has no folder {archive_root!r}: fix dataset.archive_root")
        else:
            root = staging / "x"
            root.mkdir()
            shutil.copy2(archive, root / archive.name)
        if target.exists():
            raise RecbenchError(f"{target} exists but lacks the dataset's files: delete it and run again")
        os.replace(root, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
