import hashlib
import io
import tarfile
import zipfile

import pytest

from speciarl.data.archives import ArchiveError, Download, download, extract, fetch_all


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_fetch_downloads_verifies_and_extracts_over_http(tmp_path, http_server):
    served = tmp_path / "served"
    served.mkdir()
    md5 = make_tar(served / "CUB_200_2011.tgz", {"CUB_200_2011/classes.txt": b"1 001.A\n"})
    base = http_server(served)
    root = tmp_path / "root"
    fetch_all((Download(f"{base}/CUB_200_2011.tgz", "CUB_200_2011.tgz", md5=md5),), root)
    assert (root / "CUB_200_2011" / "classes.txt").read_bytes() == b"1 001.A\n"
    # A second fetch keeps the verified archive and does not download again.
    (served / "CUB_200_2011.tgz").unlink()
    fetch_all((Download(f"{base}/CUB_200_2011.tgz", "CUB_200_2011.tgz", md5=md5),), root)


def test_checksum_mismatch_leaves_nothing_behind(tmp_path, http_server):
    served = tmp_path / "served"
    served.mkdir()
    make_tar(served / "a.tgz", {"a.txt": b"x"})
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        download(f"{http_server(served)}/a.tgz", tmp_path / "out" / "a.tgz", md5="0" * 32)
    assert list((tmp_path / "out").iterdir()) == []


def test_unreachable_download_is_named(tmp_path):
    with pytest.raises(ArchiveError, match=r"cannot download http://127\.0\.0\.1:9/x\.tgz"):
        download("http://127.0.0.1:9/x.tgz", tmp_path / "x.tgz", timeout_s=2)


def test_unsafe_archive_members_are_refused(tmp_path):
    make_tar(tmp_path / "evil.tgz", {"../escape.txt": b"x"})
    with pytest.raises(ArchiveError, match="unsafe member"):
        extract(tmp_path / "evil.tgz", tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as bundle:
        bundle.writestr("../escape.txt", "x")
    with pytest.raises(ArchiveError, match="unsafe member"):
        extract(tmp_path / "evil.zip", tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_not_an_archive_is_named(tmp_path):
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(ArchiveError, match="not a tar or zip"):
        extract(tmp_path / "plain.txt", tmp_path / "out")
