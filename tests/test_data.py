import hashlib
import http.server
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
import torch

from course_lib import downloads, fallbacks, mnist
from course_lib.data import load_mnist_family
from course_lib.downloads import ChecksumError, DownloadError, download
from course_lib.fallbacks import generated_shapes, sklearn_digits_28


def _block_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network blocked by the test")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(downloads, "_ANNOUNCED", set())


def test_offline_fallback_engages_with_the_network_blocked(cfg, monkeypatch, capsys):
    _block_network(monkeypatch)
    splits = load_mnist_family(cfg, "mnist")
    assert not splits.is_real and "fallback" in splits.source
    for part in (splits.train, splits.val, splits.test):
        assert part.x.shape[1:] == (1, 28, 28) and part.x.dtype == torch.float32
        assert 0.0 <= part.x.min() and part.x.max() <= 1.0 and len(part.x) == len(part.y)
    assert len(splits.train) <= cfg.n_train and len(splits.test) <= cfg.n_test
    # no image is in two splits
    flat = lambda t: {hashlib.md5(r.numpy().tobytes()).hexdigest() for r in t.x}  # noqa: E731
    assert not flat(splits.train) & flat(splits.test)
    load_mnist_family(cfg, "mnist")
    err = capsys.readouterr().err
    assert err.count("offline fallback") + err.count("using scikit-learn") == 1  # said once


def test_fashion_fallback_is_generated_shapes(cfg, monkeypatch):
    _block_network(monkeypatch)
    splits = load_mnist_family(cfg, "fashion-mnist")
    assert not splits.is_real and splits.classes == fallbacks.SHAPE_CLASSES


def _write_idx(path, array: np.ndarray):
    path.parent.mkdir(parents=True, exist_ok=True)
    code = 0x08
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_fake_mnist(data_dir, n_train: int, n_test: int, seed: int = 0) -> None:
    """Random digits-shaped IDX files in torchvision's MNIST layout under ``data_dir``."""
    raw = data_dir / "MNIST" / "raw"
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))


def test_real_mnist_on_disk_is_read_and_split(cfg):
    _write_fake_mnist(cfg.data_dir, 600, 100)
    splits = load_mnist_family(cfg.replace(offline=True), "mnist")
    assert splits.is_real
    assert len(splits.val) == 100 and len(splits.train) == 500 and len(splits.test) == 100
    assert splits.train.x.max() <= 1.0 and splits.train.x.max() > 0.99


def test_read_idx_returns_the_bytes_in_their_shape(tmp_path):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    _write_idx(tmp_path / "x-idx3-ubyte", array)
    assert mnist.read_idx(tmp_path / "x-idx3-ubyte").tolist() == array.tolist()


def test_read_idx_refuses_truncated_and_foreign_files(tmp_path):
    _write_idx(tmp_path / "x", np.zeros((5, 28, 28)))
    (tmp_path / "short").write_bytes((tmp_path / "x").read_bytes()[:-1])
    (tmp_path / "foreign").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    for name in ("short", "foreign"):
        with pytest.raises(ValueError):
            mnist.read_idx(tmp_path / name)


def test_course_reader_agrees_with_torchvision_and_does_not_import_it(cfg):
    _write_fake_mnist(cfg.data_dir, 50, 20, seed=1)
    code = (
        "import sys; from course_lib import mnist; "
        f"train, test = mnist.read_mnist_family('mnist', __import__('pathlib').Path({str(cfg.data_dir)!r})); "
        "assert 'torchvision' not in sys.modules, 'torchvision was imported'; "
        "import torchvision.datasets as tvd, torch; "
        f"ds = tvd.MNIST({str(cfg.data_dir)!r}, train=True, download=False); "
        "assert torch.equal(train.x, ds.data.unsqueeze(1).float() / 255) and torch.equal(train.y, ds.targets); "
        "assert tvd.MNIST.resources == list(mnist.mnist_family('mnist').resources)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b"course data " * 100

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_url():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/file.bin"
    server.shutdown()


def test_download_with_the_right_checksum_keeps_the_file(http_url, tmp_path):
    good = hashlib.sha256(_Handler.body).hexdigest()
    path = download(http_url, tmp_path / "f.bin", checksum=("sha256", good), timeout=5)
    assert path.read_bytes() == _Handler.body


def test_a_bad_checksum_is_refused_and_nothing_is_kept(http_url, tmp_path):
    with pytest.raises(ChecksumError, match="refused"):
        download(http_url, tmp_path / "f.bin", checksum=("md5", "0" * 32), timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_a_download_that_hangs_is_cut_off_by_the_timeout(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts connections, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/never"
    start = time.perf_counter()
    try:
        with pytest.raises(DownloadError):
            download(url, tmp_path / "f.bin", timeout=1.0)
    finally:
        listener.close()
    assert time.perf_counter() - start < 5


def test_download_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        download("http://127.0.0.1/x", tmp_path / "x", timeout=0)
    with pytest.raises(ValueError):
        download("http://127.0.0.1/x", tmp_path / "x", checksum=("crc32", "00"))


def test_sklearn_digits_are_laid_out_like_mnist():
    x, y = sklearn_digits_28()
    assert x.shape == (1797, 1, 28, 28) and set(y.tolist()) == set(range(10))
    assert x[:, :, :4].abs().max() == 0 and x[:, :, -4:].abs().max() == 0  # empty border like MNIST
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_generated_shapes_are_seeded_and_checked():
    a, b = generated_shapes(20, seed=1), generated_shapes(20, seed=1)
    assert torch.equal(a.x, b.x) and a.x.shape == (20, 1, 28, 28) and a.x.max() <= 1
    with pytest.raises(ValueError):
        generated_shapes(0)


def test_unknown_dataset_name_is_a_value_error(cfg):
    with pytest.raises(ValueError, match="dataset name"):
        load_mnist_family(cfg, "cifar")


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-100])


def _bad_header(path):
    path.write_bytes(b"\x01\x02" + path.read_bytes()[2:])


def _fewer_labels(path):
    _write_idx(path.parent / "train-labels-idx1-ubyte", np.zeros(7))


def _labels_outside_the_classes(path):
    """Probe 50: 50 labels of 200 in a consistent file loaded as real data, labels 0..200."""
    labels = np.arange(50) % 10
    labels[::7] = 200
    _write_idx(path, labels)


def _garbage(path):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000).astype(np.uint8).tobytes())


@pytest.mark.parametrize(("damage", "file", "why"), [
    (_truncate, "train-images-idx3-ubyte", "header says"),
    (_bad_header, "t10k-images-idx3-ubyte", "not an IDX file"),
    (_fewer_labels, "train-labels-idx1-ubyte", "(7,) labels for 50 images"),
    (_labels_outside_the_classes, "train-labels-idx1-ubyte", "8 labels outside 0-9 (up to 200)"),
    (_garbage, "t10k-labels-idx1-ubyte", "not an IDX file")])
def test_a_damaged_file_is_named_with_the_fix_once_and_the_loader_falls_back(cfg, monkeypatch, capsys,
                                                                             damage, file, why):
    monkeypatch.setattr(downloads, "_ANNOUNCED", set())
    _write_fake_mnist(cfg.data_dir, 50, 20)
    path = cfg.data_dir / "MNIST" / "raw" / file
    damage(path)
    splits = load_mnist_family(cfg, "mnist")  # online: a damaged file is not "missing", no download is tried
    assert not splits.is_real and "fallback" in splits.source
    load_mnist_family(cfg, "mnist")
    lines = [line for line in capsys.readouterr().err.splitlines() if " is damaged " in line]
    assert len(lines) == 1
    assert str(path) in lines[0] and why in lines[0] and "delete it and run `aecourse fetch-data`" in lines[0]
