"""A registry file turns a registration into the exact type: the FAA's releasable database
layout and a plain CSV; files that cannot be used are refused with the file and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from aircraftml.errors import ConfigError
from aircraftml.vision.registry import load_registry, sample_registry_dir


def test_the_faa_layout_joins_master_and_aircraft_reference() -> None:
    # Given the shipped FAA-layout sample (N-numbers without their N, padded cells)
    registry = load_registry(sample_registry_dir() / "faa")
    # Then each N-number has its maker and model, the maker in normal case
    assert registry.type_of("N3747D") == "Boeing 737-832"
    assert registry.type_of("n12345") == "Cessna 172N"
    assert registry.type_of("N99999") is None
    assert len(registry) == 3


def test_master_txt_itself_may_be_given(tmp_path: Path) -> None:
    registry = load_registry(sample_registry_dir() / "faa" / "MASTER.txt")
    assert registry.type_of("N802AN") == "Boeing 777-223"


def test_a_csv_of_registration_and_type_is_read_and_its_spellings_normalised(
    tmp_path: Path,
) -> None:
    # Given a CSV with an extra column, a lower-case key and a blank row
    path = tmp_path / "fleet.csv"
    path.write_text(
        "Registration,Type,Operator\nd-aiza,Airbus A320-214,Lufthansa\n,,\n"
        "JA8089,Boeing 747-481D,JAL\n",
        encoding="utf-8",
    )
    registry = load_registry(path)
    # Then lookups find them as the reader writes registrations
    assert registry.type_of("D-AIZA") == "Airbus A320-214"
    assert registry.type_of("JA8089") == "Boeing 747-481D"
    assert len(registry) == 2
    assert registry.source == str(path)


def test_the_shipped_csv_sample_knows_the_shared_erj_145() -> None:
    registry = load_registry(sample_registry_dir() / "sample.csv")
    assert registry.type_of("F-GUBC") == "Embraer ERJ-145MP"


def test_a_csv_without_the_columns_is_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("tail,model\nF-GUBC,ERJ\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"wrong\.csv has no column\(s\) registration, type"):
        load_registry(path)


def test_a_missing_file_or_an_faa_folder_without_acftref_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_registry(tmp_path / "nothing.csv")
    (tmp_path / "MASTER.txt").write_text("N-NUMBER,MFR MDL CODE\n12345,1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ACFTREF\.txt does not exist"):
        load_registry(tmp_path)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="is empty"):
        load_registry(path)


def test_the_registry_setting_is_aircraftml_registry() -> None:
    from aircraftml.config import Settings

    environ = {
        "AIRCRAFTML_BOT_USER_ID": "1000",
        "AIRCRAFTML_BOT_HANDLE": "aircraftml",
        "AIRCRAFTML_X_CONSUMER_KEY": "key",
        "AIRCRAFTML_X_CONSUMER_SECRET": "consumer-secret",
        "AIRCRAFTML_X_ACCESS_TOKEN": "token",
        "AIRCRAFTML_X_ACCESS_TOKEN_SECRET": "token-secret",
    }
    assert Settings.load(environ).registry is None
    assert Settings.load(environ).read_registrations is True
    settings = Settings.load(
        {**environ, "AIRCRAFTML_REGISTRY": "fleet.csv", "AIRCRAFTML_READ_REGISTRATIONS": "0"}
    )
    assert settings.registry == Path("fleet.csv")
    assert settings.read_registrations is False
