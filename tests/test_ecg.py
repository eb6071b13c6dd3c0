import hashlib
import socket
import time
import urllib.request
import zipfile

import numpy as np
import pytest
import torch

from course_lib import data, downloads, mnist
from course_lib import ecg as ecg_format
from course_lib.data import load_ecg5000
from course_lib.downloads import ChecksumError, DownloadError
from course_lib.ecg import ECG5000_TRAIN_SHA256, anomaly_labels, fetch_ecg5000, parse_ucr
from course_lib.fallbacks import generated_ecg


def _ucr_text(classes, length=140, seed=0) -> str:
    rng = np.random.default_rng(seed)
    rows = [[c, *rng.normal(size=length)] for c in classes]
    return "\n".join("\t".join(f"{v:.7e}" for v in row) for row in rows) + "\n"


def _write_ucr(folder, train_classes, test_classes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ECG5000_TRAIN.txt").write_text(_ucr_text(train_classes, seed=1))
    (folder / "ECG5000_TEST.txt").write_text(_ucr_text(test_classes, seed=2))


def _with_samples(text: str, value: str, rows) -> str:
    """UCR text with the 10th sample of each of ``rows`` replaced by ``value`` (e.g. 'nan')."""
    lines = text.splitlines()
    for i in rows:
        fields = lines[i].split("\t")
        fields[10] = value
        lines[i] = "\t".join(fields)
    return "\n".join(lines) + "\n"


def _zip(path, train_text, test_text, folder="ECG5000/"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(folder + "ECG5000_TRAIN.txt", train_text)
        z.writestr(folder + "ECG5000_TEST.txt", test_text)
        z.writestr(folder + "ECG5000.ts", "not needed")
    return path


def test_parse_ucr_reads_classes_and_values():
    text = "1.0000000e+00  0.5  -0.25 2.0\n3.0000000e+00\t1\t2\t3\n\n"
    beats = parse_ucr(text, length=3)
    assert beats.x.shape == (2, 1, 3) and beats.x.dtype == torch.float32
    assert beats.y.tolist() == [1, 3]
    assert torch.allclose(beats.x[0, 0], torch.tensor([0.5, -0.25, 2.0]))


@pytest.mark.parametrize("text", ["1 0.5 0.2\n", "1 a b c\n", "1.5 1 2 3\n"])
def test_parse_ucr_rejects_malformed_text(text):
    with pytest.raises(ValueError):
        parse_ucr(text, length=3)


def test_label_mapping_class_1_is_normal_the_rest_anomalous():
    y = torch.tensor([1, 2, 3, 4, 5, 1])
    assert anomaly_labels(y).tolist() == [0, 1, 1, 1, 1, 0]
    with pytest.raises(ValueError):
        anomaly_labels(torch.tensor([0, 1]))


def test_files_on_disk_are_read_without_a_checksum_and_split(cfg):
    train_classes = [1] * 40 + [2] * 10 + [4] * 5
    _write_ucr(cfg.data_dir / "ECG5000", train_classes, [1] * 30 + [2, 3, 4, 5] * 5)
    ecg = load_ecg5000(cfg.replace(offline=True))
    assert ecg.is_real and "fallback" not in ecg.source
    assert (ecg.train.y == 1).all() and (ecg.val.y == 1).all()  # train and val: normal beats only
    assert len(ecg.val) == 8 and len(ecg.train) == 32 and len(ecg.train_anomalous) == 15
    assert len(ecg.test) == 50 and ecg.test_is_anomaly.sum() == 20
    # validation beats come from the TRAIN file and are disjoint from the training beats
    keys = lambda b: {hashlib.md5(r.numpy().tobytes()).hexdigest() for r in b.x}  # noqa: E731
    assert not keys(ecg.train) & keys(ecg.val)
    assert not keys(ecg.val) & keys(ecg.test)


def test_split_is_seeded(cfg):
    _write_ucr(cfg.data_dir / "ECG5000", [1] * 30 + [2] * 5, [1, 2] * 10)
    a, b = load_ecg5000(cfg.replace(offline=True)), load_ecg5000(cfg.replace(offline=True))
    assert torch.equal(a.val.x, b.val.x)
    c = load_ecg5000(cfg.replace(offline=True, seed=1))
    assert not torch.equal(a.val.x, c.val.x)


def test_zip_download_with_the_right_checksum_keeps_both_files(tmp_path):
    train_text, test_text = _ucr_text([1, 2, 1]), _ucr_text([1, 5])
    url = _zip(tmp_path / "ECG5000.zip", train_text, test_text).as_uri()
    sha = hashlib.sha256(train_text.encode()).hexdigest()
    folder = fetch_ecg5000(tmp_path / "data", timeout=5, url=url, train_sha256=sha)
    assert sorted(p.name for p in folder.iterdir()) == ["ECG5000_TEST.txt", "ECG5000_TRAIN.txt"]
    assert (folder / "ECG5000_TEST.txt").read_text() == test_text


def test_downloaded_train_file_with_a_wrong_checksum_is_refused(tmp_path):
    url = _zip(tmp_path / "ECG5000.zip", _ucr_text([1, 2]), _ucr_text([1])).as_uri()
    with pytest.raises(ChecksumError, match="refused"):
        fetch_ecg5000(tmp_path / "data", timeout=5, url=url)  # the official sha256
    assert not any((tmp_path / "data").rglob("*.*"))  # nothing kept, not even the zip
    assert len(ECG5000_TRAIN_SHA256) == 64


def test_an_archive_without_the_files_or_not_a_zip_is_refused(tmp_path):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("README", "nothing here")
    with pytest.raises(DownloadError, match="does not contain"):
        fetch_ecg5000(tmp_path / "d1", timeout=5, url=empty.as_uri())
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(DownloadError, match="not a readable zip"):
        fetch_ecg5000(tmp_path / "d2", timeout=5, url=junk.as_uri())


def test_a_hanging_download_times_out_and_the_loader_falls_back(cfg, monkeypatch, capsys):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/ECG5000.zip"
    start = time.perf_counter()
    try:
        with pytest.raises(DownloadError, match="gave up"):
            fetch_ecg5000(cfg.data_dir, timeout=1.0, url=url)
        assert time.perf_counter() - start < 5  # cut off after about 1 s, not hung
        monkeypatch.setattr(ecg_format, "ECG5000_URL", url)
        monkeypatch.setattr(downloads, "_ANNOUNCED", set())
        ecg = load_ecg5000(cfg.replace(download_timeout=1.0))
    finally:
        listener.close()
    assert time.perf_counter() - start < 30  # the loader too gave up, then generated beats
    assert not ecg.is_real
    err = capsys.readouterr().err
    assert "could not download ecg5000" in err and "generated ECG-like beats" in err


def test_offline_fallback_is_announced_once_and_labelled(cfg, monkeypatch, capsys):
    monkeypatch.setattr(downloads, "_ANNOUNCED", set())
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("blocked")))
    ecg = load_ecg5000(cfg)
    load_ecg5000(cfg)
    assert not ecg.is_real and "generated" in ecg.source
    assert ecg.classes == ecg_format.GENERATED_ECG_CLASSES
    assert (ecg.train.y == 1).all() and (ecg.val.y == 1).all()
    assert 0.2 < ecg.test_is_anomaly.float().mean() < 0.6
    assert capsys.readouterr().err.count("generated ECG-like beats with injected") == 1


def test_generated_beats_carry_their_injected_anomalies():
    beats = generated_ecg(400, anomaly_share=0.5, seed=3)
    assert beats.x.shape == (400, 1, 140) and set(beats.y.tolist()) == {1, 2, 3, 4, 5}
    assert torch.allclose(beats.x.mean(-1), torch.zeros(400, 1), atol=1e-4)  # z-normalised
    normal = beats.x[beats.y == 1, 0].mean(0)
    for cls in (2, 3, 4, 5):  # every anomaly class differs from the normal template
        gap = (beats.x[beats.y == cls, 0] - normal).pow(2).mean(1)
        spread = (beats.x[beats.y == 1, 0] - normal).pow(2).mean(1)
        assert gap.median() > 3 * spread.median(), cls
    assert torch.equal(generated_ecg(5, seed=1).x, generated_ecg(5, seed=1).x)
    with pytest.raises(ValueError):
        generated_ecg(0)


def test_dataset_status_lists_ecg5000(tmp_path):
    assert data.dataset_status(tmp_path)["ecg5000"] is False
    _write_ucr(tmp_path / "ECG5000", [1, 2], [1])
    assert data.dataset_status(tmp_path)["ecg5000"] is True


def _pretend_mnist_family_present(data_dir):
    for name, cls in (("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")):
        raw = data_dir / cls / "raw"
        raw.mkdir(parents=True)
        for f, _ in mnist.mnist_family(name).resources:
            (raw / f.removesuffix(".gz")).write_bytes(b"")


def test_cli_fetch_data_downloads_and_verifies_ecg5000(tmp_path, monkeypatch, capsys):
    from aecourse_tools import cli

    train_text = _ucr_text([1, 2, 1])
    url = _zip(tmp_path / "ECG5000.zip", train_text, _ucr_text([1, 4])).as_uri()
    monkeypatch.setattr(ecg_format, "ECG5000_URL", url)
    monkeypatch.setattr(ecg_format, "ECG5000_TRAIN_SHA256", hashlib.sha256(train_text.encode()).hexdigest())
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    _pretend_mnist_family_present(tmp_path / "data")
    assert cli.main(["fetch-data", "--timeout", "5"]) == 0
    assert "ecg5000        downloaded and verified" in capsys.readouterr().out
    assert cli.main(["check", "--no-network"]) == 0
    assert "ecg5000        on disk" in capsys.readouterr().out


def test_cli_check_names_the_ecg_fallback(tmp_path, monkeypatch, capsys):
    from aecourse_tools import cli

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert cli.main(["check", "--no-network"]) == 0
    assert "ecg5000        absent: offline fallback (generated ECG-like beats)" in capsys.readouterr().out


@pytest.mark.parametrize(("damage", "why"), [
    (lambda p: p.write_text(p.read_text().replace("\t", " ", 3).rsplit("\t", 1)[0] + "\n"), "columns"),
    (lambda p: p.write_text(_ucr_text([1, 2], length=96)), "1 class + 140 values"),
    (lambda p: p.write_bytes(bytes(range(256)) * 20), "not text"),
    (lambda p: p.write_text(""), "no rows"),
    (lambda p: p.write_text(_ucr_text([1, 7])), "classes are 1-5"),
    (lambda p: p.write_text(_with_samples(_ucr_text([1] * 5), "nan", rows=(1, 2, 4))),  # probe 52
     "3 row(s) hold a value that is not a finite number (row 2: 'nan')"),
    (lambda p: p.write_text(_with_samples(_ucr_text([1] * 5), "-inf", rows=(0,))),
     "1 row(s) hold a value that is not a finite number (row 1: '-inf')")])
def test_a_damaged_ecg_file_is_named_with_the_fix_and_the_loader_falls_back(cfg, monkeypatch, capsys, damage, why):
    monkeypatch.setattr(downloads, "_ANNOUNCED", set())
    _write_ucr(cfg.data_dir / "ECG5000", [1] * 40 + [2] * 10, [1] * 30 + [2, 3] * 5)
    path = cfg.data_dir / "ECG5000" / "ECG5000_TEST.txt"
    damage(path)
    ecg = load_ecg5000(cfg.replace(offline=True))
    assert not ecg.is_real and "generated" in ecg.source
    (line,) = [line for line in capsys.readouterr().err.splitlines() if " is damaged " in line]
    assert str(path) in line and why in line and "aecourse fetch-data" in line
