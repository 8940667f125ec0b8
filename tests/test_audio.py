"""Reading call audio: encodings, rates, channels, frames, and every kind of bad file."""
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import AudioError, file_frames, find_audio_files, load_audio, read_blocks, write_wav
from tests.conftest import JFK, tone


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "ULAW", "ALAW"])
@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000])
def test_encodings_and_rates_come_out_16k(tmp_path, subtype, rate):
    path = tmp_path / "x.wav"
    sf.write(path, tone(1.0, rate), rate, subtype=subtype)
    audio = load_audio(path)
    assert audio.dtype == np.float32
    assert abs(len(audio) - 16000) <= 2
    # the tone survives: the resampler keeps a 440 Hz sine at its level
    assert 0.15 < np.abs(audio[2000:14000]).max() < 0.35


def test_resampler_keeps_the_frequency(tmp_path):
    sf.write(tmp_path / "x.wav", tone(1.0, 44100, 1000.0), 44100)
    audio = load_audio(tmp_path / "x.wav")
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / len(audio) - 1000) < 2


def test_stereo_channels(tmp_path):
    left, right = tone(1.0, 16000, 300), np.zeros(16000, np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, right], 1), 16000)
    assert np.allclose(load_audio(tmp_path / "s.wav", channel=0), left, atol=1e-4)
    assert np.abs(load_audio(tmp_path / "s.wav", channel=1)).max() < 1e-4
    assert np.allclose(load_audio(tmp_path / "s.wav"), left / 2, atol=1e-4)  # mixed down
    with pytest.raises(AudioError, match=r"s\.wav: has 2 channel\(s\), channel 2"):
        load_audio(tmp_path / "s.wav", channel=2)


def test_flac_real_speech():
    audio = load_audio(JFK)
    assert abs(len(audio) / 16000 - 11.0) < 0.1


def test_frames_are_exact_and_timed(tmp_path):
    sf.write(tmp_path / "x.wav", tone(1.0, 8000), 8000)
    for ms in (10, 20, 30):
        frames = list(file_frames(tmp_path / "x.wav", ms))
        size = 16 * ms
        assert all(len(f.samples) == size and f.sample_rate == 16000 for f in frames)
        assert frames[1].t == pytest.approx(ms / 1000)
        assert len(frames) == -(-16000 // size)
    with pytest.raises(ValueError):
        list(file_frames(tmp_path / "x.wav", 25))


def test_long_file_streams_in_bounded_blocks(tmp_path):
    # 10 minutes at 48 kHz: blocks never hold more than BLOCK_SECONDS of audio
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", 48000, 1, "PCM_16") as f:
        for _ in range(60):
            f.write(tone(10.0, 48000))
    sizes = [len(b) for b in read_blocks(path)]
    assert max(sizes) <= 16000 * 10 + 1000
    assert abs(sum(sizes) - 600 * 16000) < 100


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not audio, just text renamed to .wav\n" * 20), "not a readable audio file"),
    (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "not a readable audio file"),
])
def test_bad_files_give_one_line_errors(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError) as e:
        load_audio(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value)
    assert "\n" not in str(e.value)


def test_truncated_data_reads_what_is_there(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(2.0, 16000), 16000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:44 + 16000])  # header promises 2 s, 0.5 s is there
    audio = load_audio(cut)
    assert 0.4 * 16000 <= len(audio) <= 0.6 * 16000


def test_zero_length_audio_is_empty(tmp_path):
    sf.write(tmp_path / "z.wav", np.zeros(0, np.float32), 16000)
    assert len(load_audio(tmp_path / "z.wav")) == 0
    assert list(file_frames(tmp_path / "z.wav")) == []


def test_find_audio_files(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    files, errors = find_audio_files([str(tmp_path), str(tmp_path / "empty"), str(tmp_path / "nope.wav")])
    assert files == [tmp_path / "a.wav"]
    assert any("empty: directory holds no audio files" in e for e in errors)
    assert any("nope.wav: no such file or directory" in e for e in errors)


def test_write_wav_is_atomic_and_readable(tmp_path):
    write_wav(tmp_path / "o" / "x.wav", tone(0.5, 22050), 22050)
    data, rate = sf.read(tmp_path / "o" / "x.wav")
    assert rate == 22050 and len(data) == 11025
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["x.wav"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / "o" / "x.wav").stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    from asr.files import atomic_path, atomic_write_text
    atomic_write_text(tmp_path / "r.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "r.json") as tmp:
            Path(tmp).write_text("half")
            raise RuntimeError("crash")
    assert (tmp_path / "r.json").read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_channel_is_ignored_for_mono(tmp_path):
    sf.write(tmp_path / "m.wav", tone(0.5, 16000), 16000)
    assert np.allclose(load_audio(tmp_path / "m.wav", channel=1), load_audio(tmp_path / "m.wav"))
