"""``open_queue`` and ``open_state``: a URL names the backend; unknown ones are ConfigErrors."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

import aircraftml.queue
import aircraftml.state
from aircraftml.errors import ConfigError
from aircraftml.queue import open_queue
from aircraftml.queue.memory import MemoryQueue
from aircraftml.queue.sqlite import SqliteQueue
from aircraftml.state import open_state
from aircraftml.state.memory import MemoryStateStore
from aircraftml.state.sqlite import SqliteStateStore


def test_sqlite_url_opens_the_file_at_its_absolute_path(tmp_path: Path) -> None:
    queue = open_queue(f"sqlite://{tmp_path}/q.sqlite3", max_receives=2)
    assert isinstance(queue, SqliteQueue)
    assert queue.path == tmp_path / "q.sqlite3"
    queue.close()
    store = open_state(f"sqlite://{tmp_path}/state.sqlite3")
    assert isinstance(store, SqliteStateStore)
    assert store.path == tmp_path / "state.sqlite3"
    store.close()


def test_memory_url_opens_an_in_process_backend() -> None:
    assert isinstance(open_queue("memory://"), MemoryQueue)
    assert isinstance(open_state("memory://"), MemoryStateStore)


@pytest.mark.parametrize("url", ["redis://localhost/0", "queue.sqlite3", "sqlite://"])
def test_a_url_no_backend_knows_is_a_config_error_naming_it(url: str) -> None:
    with pytest.raises(ConfigError, match="queue URL"):
        open_queue(url)
    with pytest.raises(ConfigError, match="state URL"):
        open_state(url)


@pytest.mark.parametrize("module", [aircraftml.queue, aircraftml.state])
def test_all_names_exist(module: ModuleType) -> None:
    assert all(hasattr(module, name) for name in module.__all__)
