"""Labelled streams for ``vigil evaluate``: simulator and JSONL files agree; bad lines are
counted, not fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.evaluate.exceptions import InputError
from monitor.evaluate.source import from_jsonl, from_simulator
from monitor.simulate import SimConfig, generate, write_jsonl

CFG = SimConfig(accounts=60, days=0.5, seed=5, attack_share=0.1)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("evaluate-source")
    events, labels = d / "events.jsonl", d / "events.labels.jsonl"
    write_jsonl(CFG, events, labels)
    return events, labels


def test_jsonl_round_trip_gives_the_simulator_stream(files: tuple[Path, Path]):
    src = from_jsonl(*files)
    got = list(src)
    expected = list(generate(CFG))
    assert got == expected
    assert src.total == len(expected)
    labelled = sum(label is not None for _, label in expected)
    assert labelled > 0
    st = src.stats
    assert (st.events, st.labels, st.bad_lines, st.unmatched_labels) == (
        len(expected),
        labelled,
        0,
        0,
    )


def test_simulator_source_counts_events_and_labels():
    src = from_simulator(CFG)
    stream = list(src)
    assert src.stats.events == len(stream)
    assert src.stats.labels == sum(label is not None for _, label in stream)
    assert src.total is None and "60 accounts" in src.name


def test_bad_lines_are_counted_and_skipped(files: tuple[Path, Path], tmp_path: Path):
    events_path, labels_path = files
    lines = events_path.read_bytes().splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(
        lines[0]
        + b"not json at all\n"
        + b"\n"  # blank lines are not events and not errors
        + b'{"event_id":"x","type":"login"}\n'  # schema
        + b"\xff\xfe\n"  # invalid UTF-8
        + b"".join(lines[1:])
    )
    bad_labels = tmp_path / "labels.jsonl"
    bad_labels.write_bytes(
        labels_path.read_bytes()
        + b'{"event_id":"nope","account_id":"a","campaign_id":"c","scenario":"s","stage":"x"}\n'
        + b"{broken\n"
    )
    src = from_jsonl(broken, bad_labels)
    got = list(src)
    assert got == list(generate(CFG))  # the good lines, all of them, still labelled
    st = src.stats
    assert st.bad_lines == 3
    assert st.bad_reasons == {"invalid_json": 1, "schema": 1, "invalid_utf8": 1}
    assert st.bad_label_lines == 1 and st.unmatched_labels == 1
    assert any(f"{broken}:2: invalid_json" in e for e in st.bad_examples)
    assert any(f"{bad_labels}:" in e and "label" in e for e in st.bad_examples)


def test_missing_files_are_input_errors(files: tuple[Path, Path], tmp_path: Path):
    events, labels = files
    with pytest.raises(InputError, match="not found"):
        from_jsonl(tmp_path / "missing.jsonl", labels)
    with pytest.raises(InputError, match=r"missing\.labels"):
        from_jsonl(events, tmp_path / "missing.labels.jsonl")
