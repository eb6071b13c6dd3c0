"""Downloads with a deadline and a checksum, and the one routine every loader uses: disk, download, fallback.

A dataset is read from disk; if it is missing it is downloaded (unless offline); if
that fails, or the file on disk is damaged, the loader says so once and uses its
offline fallback, so every notebook still runs.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
MAX_TIMEOUT = 24 * 3600.0  # seconds: a download deadline of more than a day is a typo (1e10 overflows the clock)


class DownloadError(RuntimeError):
    """A download failed, hung past its timeout, or was refused."""


class ChecksumError(DownloadError):
    """A downloaded file did not match its expected checksum."""


class DamagedFileError(ValueError):
    """A dataset file on disk is there but cannot be read (truncated, wrong format, mismatched)."""

    def __init__(self, path: Path, why: str):
        super().__init__(f"{path}: {why}")
        self.path, self.why = Path(path), why


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file (``md5`` or ``sha256``)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_with_deadline(fn: Callable[[], None], seconds: float, name: str = "course-deadline") -> None:
    """Run ``fn`` in a daemon thread called ``name``; raise DownloadError if it outlives ``seconds``."""
    errors: list[BaseException] = []

    def target():
        try:
            fn()
        except BaseException as e:  # re-raised in the caller's thread
            errors.append(e)

    thread = threading.Thread(target=target, daemon=True, name=name)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise DownloadError(f"gave up after {seconds:g} s without an answer")
    if errors:
        raise errors[0]


class PartFile:
    """The ``.part`` file a download thread writes, until the caller abandons it.

    A host that drips bytes never lets the socket's timeout fire, so the thread may still be
    reading when the deadline passes. ``abandon`` (under the same lock as every write) closes
    and removes the file, and from then on the thread writes nothing and stops at its next read.
    """

    def __init__(self, path: Path, chunk: int = 1 << 16):
        self.path, self.chunk = Path(path), chunk
        self._lock, self._file, self._abandoned = threading.Lock(), None, False

    def copy_from(self, response) -> None:
        """Write ``response`` to the file chunk by chunk (each read returns as soon as bytes arrive)."""
        read = getattr(response, "read1", response.read)
        while True:
            data = read(self.chunk)
            with self._lock:
                if self._abandoned:
                    return
                if self._file is None:
                    self._file = open(self.path, "wb")  # closed at the end of the response or by abandon
                if not data:
                    self._file.close()
                    return
                self._file.write(data)

    def abandon(self) -> None:
        """Stop the writing thread at its next chunk and remove the file."""
        with self._lock:
            self._abandoned = True
            if self._file is not None:
                self._file.close()
            self.path.unlink(missing_ok=True)


def check_timeout(timeout, name: str = "timeout") -> float:
    """``timeout`` if it is a positive number of seconds up to ``MAX_TIMEOUT``, else a ValueError naming ``name``."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"{name} must be a positive number of seconds up to {MAX_TIMEOUT:g} (a day), "
                         f"got {timeout!r}")
    return float(timeout)


def download(url: str, dest: Path, *, checksum: tuple[str, str] | None = None,
             timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` with a total ``timeout`` and an optional checksum.

    Whatever goes wrong (an error, the deadline, a checksum mismatch) leaves no ``.part`` file
    and no thread writing to disk.

    Args:
        checksum: ``(algorithm, hexdigest)``, e.g. ``("md5", "f68b...")``; a
            mismatch deletes the file and raises ``ChecksumError``.
    """
    check_timeout(timeout)
    if checksum is not None and checksum[0] not in {"md5", "sha256"}:
        raise ValueError(f"checksum algorithm must be md5 or sha256, got {checksum[0]!r}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = PartFile(dest.with_name(dest.name + ".part"))

    def fetch():
        with urllib.request.urlopen(url, timeout=timeout) as response:
            part.copy_from(response)

    try:
        run_with_deadline(fetch, timeout, name=f"download {url}")
    except DownloadError:
        part.abandon()
        raise DownloadError(f"download of {url} gave up after {timeout:g} s") from None
    except (TimeoutError, OSError, ValueError) as e:
        part.abandon()
        if isinstance(e, TimeoutError) or isinstance(getattr(e, "reason", None), TimeoutError):
            # the socket's own timeout fired before the deadline's: the same event, one message
            raise DownloadError(f"download of {url} gave up after {timeout:g} s") from None
        raise DownloadError(f"download of {url} failed: {e}") from e
    if checksum is not None:
        algorithm, expected = checksum
        got = file_digest(part.path, algorithm)
        if got != expected:
            part.abandon()
            raise ChecksumError(f"{url}: expected {algorithm} {expected}, got {got}; file refused")
    part.path.replace(dest)
    return dest


_ANNOUNCED: set[str] = set()


def announce_once(key: str, message: str) -> None:
    """Print ``message`` to stderr the first time ``key`` is seen in this process."""
    if key not in _ANNOUNCED:
        _ANNOUNCED.add(key)
        print(message, file=sys.stderr)


def load_or_fallback(name: str, read: Callable[[], T], fetch: Callable[[], object],
                     offline: bool) -> tuple[T | None, str]:
    """``read()`` from disk, else ``fetch()`` then ``read()``; ``(data, "disk" | "downloaded")``.

    ``(None, "absent")`` or ``(None, "damaged")`` when the caller must use its offline
    fallback: the dataset is absent and could not be downloaded (said once), or a file is damaged. ``read`` raises
    FileNotFoundError when the dataset is absent and DamagedFileError when a file is there
    but unreadable: that file is then named once, with the fix (delete it and run
    ``aecourse fetch-data``), and the caller falls back as for a missing dataset.
    """
    try:
        return read(), "disk"
    except DamagedFileError as e:
        announce_once(f"damaged-{name}", f"[course_lib] {name}: {e.path} is damaged ({e.why}); delete it "
                      "and run `aecourse fetch-data` to get a good copy.")
        return None, "damaged"
    except FileNotFoundError:
        pass
    if not offline:
        try:
            fetch()
            return read(), "downloaded"
        except (DownloadError, OSError, ValueError) as e:
            announce_once(f"download-{name}", f"[course_lib] could not download {name}: {e}")
    return None, "absent"
