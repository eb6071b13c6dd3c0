"""Downloads past their deadline leave nothing behind (probe 55 of PROBES-2026-12-05).

The hosts are local fake servers, started here: one drips a byte every few milliseconds
forever (the socket's own timeout never fires), one sends a whole file.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from course_lib.downloads import ChecksumError, DownloadError, download

BODY = bytes(range(256)) * 1024  # 256 KiB


class _Host(BaseHTTPRequestHandler):
    stop = threading.Event()

    def do_GET(self):
        drip = self.path.startswith("/drip")
        self.send_response(200)
        self.send_header("Content-Length", str(10**9 if drip else len(BODY)))
        self.end_headers()
        if not drip:
            self.wfile.write(BODY)
            return
        with contextlib.suppress(OSError):  # the client hung up
            while not self.stop.is_set():
                self.wfile.write(b"x" * 512)
                self.wfile.flush()
                time.sleep(0.005)

    def log_message(self, *args):
        pass


@pytest.fixture
def host():
    _Host.stop.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Host)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _Host.stop.set()
        server.shutdown()
        server.server_close()


def _download_threads(url: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"download {url}"]


def test_a_host_that_drips_forever_leaves_no_part_file_and_no_thread_writing(host, tmp_path):
    """Probe 55: download() gave up on time but left a .part file its thread kept writing (64 KiB -> 256 KiB)."""
    dest = tmp_path / "raw" / "train-images-idx3-ubyte.gz"
    part = dest.with_name(dest.name + ".part")
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"gave up after 1 s"):
        download(f"{host}/drip", dest, timeout=1.0)
    assert time.monotonic() - start < 3
    assert not part.exists() and not dest.exists()
    time.sleep(0.5)  # the host keeps dripping: nothing may reach the disk any more
    assert list(dest.parent.iterdir()) == []
    deadline = time.monotonic() + 2
    while _download_threads(f"{host}/drip") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _download_threads(f"{host}/drip") == []  # it stopped at its next chunk


def test_a_whole_file_is_kept_and_a_wrong_checksum_leaves_nothing(host, tmp_path):
    dest = tmp_path / "file.bin"
    md5 = hashlib.md5(BODY).hexdigest()
    assert download(f"{host}/file", dest, checksum=("md5", md5), timeout=10).read_bytes() == BODY
    with pytest.raises(ChecksumError):
        download(f"{host}/file", tmp_path / "other.bin", checksum=("md5", "0" * 32), timeout=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


@pytest.mark.parametrize("timeout", [1e10, 1e308, float("inf"), float("nan"), 0, -1, True])
def test_a_timeout_the_clock_cannot_wait_is_refused_before_anything_starts(tmp_path, timeout):
    """Probe 60: a timeout of 1e10 or more died of OverflowError (timestamp out of range for platform time_t)."""
    with pytest.raises(ValueError, match=r"timeout must be a positive number of seconds up to 86400 \(a day\)"):
        download("http://127.0.0.1:9/never", tmp_path / "x", timeout=timeout)
    from course_lib.downloads import check_timeout

    assert check_timeout(86400) == 86400.0


def test_fetch_data_from_a_dripping_host_leaves_no_part_files(host, tmp_path, monkeypatch, capsys):
    """Probe 55 as the probe ran it: `aecourse fetch-data` left 0-byte .part files in MNIST/raw, FashionMNIST/raw."""
    import dataclasses

    from aecourse_tools import cli
    from course_lib import ecg, mnist

    for name, info in mnist.MNIST_FAMILY.items():
        monkeypatch.setitem(mnist.MNIST_FAMILY, name, dataclasses.replace(info, mirrors=(f"{host}/drip?",)))
    monkeypatch.setattr(ecg, "ECG5000_URL", f"{host}/drip")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert cli.main(["fetch-data", "--timeout", "0.5"]) == 1
    out = capsys.readouterr().out
    assert out.count("FAILED") == 3 and out.count("gave up after 0.5 s") == 3
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
