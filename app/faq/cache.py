"""The process-wide FAQ index cache: which index is in force and which KB version it reflects.

One `FaqIndexCache` lives on `AppDeps` for the whole process. Before matching, the FAQ service
reads the KB version (one primary-key read) and asks the cache for an index of that version:

* the first time, the index is built at once from the caller's own transaction;
* when the version moved (another process or a CLI import changed the KB), the old index keeps
  answering while one background thread loads the entries in its own transaction, builds a new
  immutable index and swaps it in — matches are never blocked by a rebuild;
* `refresh` builds synchronously; the admin API calls it right after its commit, so an edit
  takes effect in its own process before the response returns.

Nothing here touches the database itself: loaders are passed in. The config file is read again
at every build, so edits to `config/faq.toml` take effect at the next rebuild.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.faq.config import FaqConfig, load_faq_config
from app.faq.index import FaqIndex, FaqIndexHolder, KbEntry

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EntryRule:
    """Where and when an indexed entry may answer; `pk` is faq_entries.id."""

    pk: int
    scope_chats: frozenset[int] = frozenset()
    scope_tags: frozenset[str] = frozenset()
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def valid_at(self, at: datetime) -> bool:
        """True inside the validity dates (open-ended when a date is missing)."""
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until

    def allows(self, chat_pk: int, chat_tags: Callable[[], frozenset[str]], at: datetime) -> bool:
        """True if the entry answers in this chat at this time."""
        if not self.valid_at(at):
            return False
        if not self.scope_chats and not self.scope_tags:
            return True
        return chat_pk in self.scope_chats or bool(self.scope_tags & chat_tags())


@dataclass(frozen=True, slots=True)
class KbSnapshot:
    """The enabled entries of one KB version and their rules."""

    version: int
    entries: Sequence[KbEntry]
    rules: Mapping[str, EntryRule]


@dataclass(frozen=True, slots=True)
class LoadedIndex:
    """An index, the rules of its entries, the config it was built with and its version."""

    index: FaqIndex
    rules: Mapping[str, EntryRule]
    config: FaqConfig
    version: int


Builder = Callable[[Sequence[KbEntry], FaqConfig], FaqIndex]


@dataclass
class FaqIndexCache:
    """Holds the current `LoadedIndex`; rebuilds it when the KB version moves."""

    build: Builder = FaqIndex.build
    load_config: Callable[[], FaqConfig] = load_faq_config
    background: bool = True
    _current: LoadedIndex | None = field(default=None, init=False, repr=False)
    _holder: FaqIndexHolder | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _config: FaqConfig | None = field(default=None, init=False, repr=False)

    @property
    def config(self) -> FaqConfig:
        """The config of the index in force (read from the file before the first build)."""
        current = self._current
        if current is not None:
            return current.config
        if self._config is None:
            self._config = self.load_config()
        return self._config

    @property
    def version(self) -> int | None:
        """The KB version of the index in force, None before the first build."""
        current = self._current
        return None if current is None else current.version

    def get(
        self,
        version: int,
        load_here: Callable[[], KbSnapshot],
        load_elsewhere: Callable[[], KbSnapshot] | None = None,
    ) -> LoadedIndex:
        """The index for `version`; see the module docstring for when it is built.

        `load_here` reads the KB in the caller's transaction; `load_elsewhere` opens its own
        (it runs in the background thread). Without it, a stale index is rebuilt at once.
        """
        current = self._current
        if current is not None and current.version >= version:
            return current
        if current is None or not self.background or load_elsewhere is None:
            with self._lock:
                current = self._current
                if current is None or current.version < version:
                    current = self._install(load_here())
            return current
        self._rebuild_in_background(load_elsewhere)
        return current

    def refresh(self, load: Callable[[], KbSnapshot]) -> LoadedIndex:
        """Build from a fresh snapshot now and put it in force (unless a newer one is)."""
        with self._lock:
            return self._install(load())

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for a background rebuild to finish (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _install(self, snapshot: KbSnapshot) -> LoadedIndex:
        current = self._current
        if current is not None and current.version > snapshot.version:
            return current
        config = self.load_config()
        index = self.build(snapshot.entries, config)
        loaded = LoadedIndex(index, dict(snapshot.rules), config, snapshot.version)
        if self._holder is None:
            self._holder = FaqIndexHolder(index)
        else:
            self._holder.swap(index)
        self._current = loaded
        _LOG.info(
            "faq index built",
            extra={"key": f"kb_version={snapshot.version} entries={len(snapshot.entries)}"},
        )
        return loaded

    def _rebuild_in_background(self, load: Callable[[], KbSnapshot]) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._background, args=(load,), name="faq-index-rebuild", daemon=True
            )
            self._thread.start()

    def _background(self, load: Callable[[], KbSnapshot]) -> None:
        try:
            snapshot = load()
            with self._lock:
                self._install(snapshot)
        except Exception:
            _LOG.exception("faq index rebuild failed; the previous index stays in force")
