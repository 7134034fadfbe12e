"""A register of aircraft: registration -> exact type, from files the user downloads.

Two layouts are read (``AIRCRAFTML_REGISTRY``, ``aircraftml classify --registry``):

- the FAA's releasable aircraft database: a folder holding ``MASTER.txt`` (one row per
  N-number, without its ``N``; column ``MFR MDL CODE``) and ``ACFTREF.txt`` (``CODE``,
  ``MFR``, ``MODEL``), comma-separated with a header row and padded with spaces;
- a plain CSV file with a header row ``registration,type`` (more columns are ignored).

A file that cannot be read, or lacks the columns, raises ``ConfigError`` naming the file and
what is missing. A small sample of both layouts ships in ``aircraftml/data/registry/`` for the
tests and the demo (illustrative rows, not an official register).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from aircraftml.errors import ConfigError
from aircraftml.vision.registration_formats import match_registration

FAA_MASTER = "MASTER.txt"
FAA_AIRCRAFT_REFERENCE = "ACFTREF.txt"
SAMPLE_DIR = "data/registry"


@dataclass(frozen=True, slots=True)
class Registry:
    """Exact types by registration (normalised: upper case, as written with its dash)."""

    types: Mapping[str, str]
    source: str  # the file or folder it came from, for the reply and the logs

    def type_of(self, registration: str) -> str | None:
        return self.types.get(_canonical(registration))

    def __len__(self) -> int:
        return len(self.types)


def load_registry(path: Path) -> Registry:
    """A registry from an FAA folder (or its ``MASTER.txt``) or a ``registration,type`` CSV."""
    if path.is_dir():
        return _load_faa(path / FAA_MASTER, path / FAA_AIRCRAFT_REFERENCE, source=path)
    if path.name.upper() == FAA_MASTER.upper():
        return _load_faa(path, path.with_name(FAA_AIRCRAFT_REFERENCE), source=path.parent)
    return _load_csv(path)


def sample_registry_dir() -> Path:
    """The shipped sample: ``sample.csv`` and an FAA-layout folder ``faa/``."""
    return Path(str(resources.files("aircraftml") / SAMPLE_DIR))


def _load_csv(path: Path) -> Registry:
    rows = _read_rows(path)
    header = _header(rows, path)
    columns = _columns(header, ("registration", "type"), path)
    types = {}
    for row in rows:
        registration, kind = (_cell(row, i) for i in columns)
        if registration and kind:
            types[_canonical(registration)] = kind
    return Registry(types, str(path))


def _canonical(registration: str) -> str:
    """As the reader writes it: ``fgubc`` and ``F GUBC`` -> ``F-GUBC``."""
    matched = match_registration(registration)
    if matched is not None and matched.substitutions == 0:
        return matched.text
    return registration.strip().upper()


def _load_faa(master: Path, reference: Path, *, source: Path) -> Registry:
    reference_rows = _read_rows(reference)
    code, maker, model = _columns(
        _header(reference_rows, reference), ("CODE", "MFR", "MODEL"), reference
    )
    models = {
        _cell(row, code): _type_name(_cell(row, maker), _cell(row, model)) for row in reference_rows
    }
    master_rows = _read_rows(master)
    number, model_code = _columns(
        _header(master_rows, master), ("N-NUMBER", "MFR MDL CODE"), master
    )
    types = {}
    for row in master_rows:
        kind = models.get(_cell(row, model_code))
        n_number = _cell(row, number).upper()
        if kind and n_number:
            types["N" + n_number] = kind
    return Registry(types, str(source))


def _type_name(maker: str, model: str) -> str:
    """``BOEING``, ``737-832`` -> ``Boeing 737-832`` (the FAA writes makers in capitals)."""
    words = " ".join(word.capitalize() if word.isalpha() else word for word in maker.split())
    return f"{words} {model}".strip()


def _read_rows(path: Path) -> Iterator[list[str]]:
    """The file's rows, read as they are needed: the FAA's MASTER.txt is about 300,000 rows,
    which a worker should not hold as text as well as in the registry."""
    try:
        handle = path.open(encoding="utf-8-sig", errors="replace", newline="")
    except FileNotFoundError:
        raise ConfigError(f"registry file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"registry file {path} cannot be read: {exc.strerror}") from None
    return _rows_of(handle, path)


def _rows_of(handle: TextIO, path: Path) -> Iterator[list[str]]:
    with handle:
        try:
            yield from csv.reader(handle)
        except (OSError, csv.Error) as exc:
            raise ConfigError(f"registry file {path} cannot be read: {exc}") from None


def _header(rows: Iterator[list[str]], path: Path) -> list[str]:
    header = next(rows, None)
    if header is None:
        raise ConfigError(f"registry file {path} is empty")
    return [name.strip().lower() for name in header]


def _columns(header: list[str], wanted: Iterable[str], path: Path) -> tuple[int, ...]:
    wanted = [name.lower() for name in wanted]
    missing = [name for name in wanted if name not in header]
    if missing:
        raise ConfigError(
            f"registry file {path} has no column(s) {', '.join(missing)} "
            f"(its header: {', '.join(header) or 'empty'})"
        )
    return tuple(header.index(name) for name in wanted)


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""
