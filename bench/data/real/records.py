"""Resumable preparation: one JSON line per finished image, appended and flushed at once.

Each worker process appends to its own ``work/records-<pid>.jsonl``; a crop is written
(atomically) before its record, so a killed run loses at most the image in flight.
On restart every readable record counts as done; a torn last line is ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def fingerprint(settings: dict[str, Any]) -> str:
    """Short hash of the settings that change crops (a different value restarts from scratch)."""
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def open_work_dir(out_dir: Path, crop_settings: dict[str, Any]) -> Path:
    """``out_dir/work`` for these crop settings; crops and records of other settings are removed."""
    work = out_dir / "work"
    stamp = work / "settings.json"
    wanted = {"fingerprint": fingerprint(crop_settings), "settings": crop_settings}
    if (
        stamp.is_file()
        and json.loads(stamp.read_text()).get("fingerprint") != wanted["fingerprint"]
    ):
        log.info("crop settings changed: removing the previous crops and records in %s", out_dir)
        shutil.rmtree(work)
        shutil.rmtree(out_dir / "images", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n")
    return work


def append_record(work: Path, record: dict[str, Any]) -> None:
    """Append one finished image's record to this process's file and flush it to disk."""
    with open(work / f"records-{os.getpid()}.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_records(work: Path) -> dict[str, dict[str, Any]]:
    """Every finished record by key (the latest wins); torn lines of a killed run are skipped."""
    records: dict[str, dict[str, Any]] = {}
    torn = 0
    for path in sorted(work.glob("records-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                torn += 1
                continue
            records[record["key"]] = record
    if torn:
        log.info("skipped %d torn record line(s) of an interrupted run", torn)
    return records
