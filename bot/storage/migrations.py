"""The schema, as numbered migrations recorded in the database.

Each migration is a function registered with @migration(N); `migrate` applies the missing ones in
order, each in its own transaction together with its `PRAGMA user_version` bump and its row in
`migrations`, so a failure leaves the database at the previous version.
"""

from __future__ import annotations

import base64
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: dict[int, tuple[str, Migration]] = {}
# Migrations that rebuild a table other tables reference: they run with foreign keys off, because with
# them on, DROP TABLE deletes every row first and ON DELETE CASCADE empties the referencing tables.
REBUILDS: set[int] = set()


def migration(version: int, *, rebuilds_parent: bool = False) -> Callable[[Migration], Migration]:
    """Register a schema migration under its version number (`rebuilds_parent`: see REBUILDS)."""

    def register(fn: Migration) -> Migration:
        if version in MIGRATIONS:
            raise RuntimeError(f"migration {version} registered twice")
        MIGRATIONS[version] = (fn.__name__, fn)
        if rebuilds_parent:
            REBUILDS.add(version)
        return fn

    return register


def _run(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the open transaction first; run statement by statement instead
    # (complete_statement keeps a trigger's inner semicolons inside its statement).
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            conn.execute(buffer)
            buffer = ""
    if buffer.strip():
        conn.execute(buffer)


@migration(1)
def catalogue(conn: sqlite3.Connection) -> None:
    """Papers, topics, their tags, the FTS index kept in sync by triggers, and seen seed files.

    The FTS table is contentless: it stores only the index of `fts_text()` (folded, bigrammed) text,
    not a second copy of it; triggers delete old entries by recomputing the text they indexed.
    """
    _run(
        conn,
        """
        CREATE TABLE papers (
            id INTEGER PRIMARY KEY,
            arxiv_id TEXT NOT NULL UNIQUE,
            title_en TEXT NOT NULL,
            title_zh TEXT NOT NULL DEFAULT '',
            abstract_zh TEXT NOT NULL,
            published TEXT NOT NULL,
            date_is_exact INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            added_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX papers_by_date ON papers (published DESC, arxiv_id DESC);
        CREATE TABLE topics (
            name TEXT PRIMARY KEY,
            position INTEGER NOT NULL
        );
        CREATE TABLE paper_topics (
            topic TEXT NOT NULL,
            paper_id INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
            source TEXT NOT NULL CHECK (source IN ('catalogue', 'rule')),
            PRIMARY KEY (topic, paper_id)
        ) WITHOUT ROWID;
        CREATE INDEX paper_topics_by_paper ON paper_topics (paper_id);
        CREATE VIRTUAL TABLE papers_fts USING fts5 (
            title, abstract, content = '', tokenize = 'unicode61 remove_diacritics 2'
        );
        INSERT INTO papers_fts (papers_fts, rank) VALUES ('automerge', 16);
        CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
            INSERT INTO papers_fts (rowid, title, abstract) VALUES (
                new.id,
                fts_text(new.arxiv_id || ' ' || new.title_en || ' ' || new.title_zh),
                fts_text(new.abstract_zh)
            );
        END;
        CREATE TRIGGER papers_fts_update AFTER UPDATE OF arxiv_id, title_en, title_zh, abstract_zh ON papers
        BEGIN
            INSERT INTO papers_fts (papers_fts, rowid, title, abstract) VALUES (
                'delete',
                old.id,
                fts_text(old.arxiv_id || ' ' || old.title_en || ' ' || old.title_zh),
                fts_text(old.abstract_zh)
            );
            INSERT INTO papers_fts (rowid, title, abstract) VALUES (
                new.id,
                fts_text(new.arxiv_id || ' ' || new.title_en || ' ' || new.title_zh),
                fts_text(new.abstract_zh)
            );
        END;
        CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
            INSERT INTO papers_fts (papers_fts, rowid, title, abstract) VALUES (
                'delete',
                old.id,
                fts_text(old.arxiv_id || ' ' || old.title_en || ' ' || old.title_zh),
                fts_text(old.abstract_zh)
            );
        END;
        CREATE TABLE seed_files (
            path TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            ingested_at TEXT NOT NULL
        )
        """,
    )


@migration(2)
def chats(conn: sqlite3.Connection) -> None:
    """Chats and their settings, subscriptions, the delivery log and topic-exhaustion notices."""
    _run(
        conn,
        """
        CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'private',
            script TEXT CHECK (script IN ('hans', 'hant')),
            push_time TEXT,
            timezone TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            inactive_reason TEXT,
            next_push_at INTEGER,
            last_push_date TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX chats_due ON chats (next_push_at) WHERE active = 1 AND next_push_at IS NOT NULL;
        CREATE TABLE subscriptions (
            chat_id INTEGER NOT NULL REFERENCES chats (chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('topic', 'keyword')),
            value TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (chat_id, kind, value)
        ) WITHOUT ROWID;
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL REFERENCES chats (chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            arxiv_id TEXT,
            kind TEXT NOT NULL CHECK (kind IN ('paper', 'notice')),
            subscription TEXT NOT NULL DEFAULT '',
            via TEXT NOT NULL CHECK (via IN ('push', 'today')),
            local_date TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('planned', 'sending', 'sent', 'failed', 'unknown')),
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            planned_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE UNIQUE INDEX deliveries_once ON deliveries (chat_id, arxiv_id) WHERE kind = 'paper';
        CREATE INDEX deliveries_open ON deliveries (chat_id, state) WHERE state IN ('planned', 'sending');
        CREATE INDEX deliveries_by_day ON deliveries (local_date, state);
        CREATE TABLE exhausted (
            chat_id INTEGER NOT NULL REFERENCES chats (chat_id) ON DELETE CASCADE ON UPDATE CASCADE,
            subscription TEXT NOT NULL,
            papers INTEGER NOT NULL,
            PRIMARY KEY (chat_id, subscription)
        ) WITHOUT ROWID;
        CREATE TABLE search_queries (
            id INTEGER PRIMARY KEY,
            query TEXT NOT NULL UNIQUE,
            used_at TEXT NOT NULL
        )
        """,
    )


_FTS_TRIGGERS = """
    CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts (rowid, title, abstract) VALUES (
            new.id,
            fts_text(new.arxiv_id || ' ' || new.title_en || ' ' || new.title_zh),
            fts_text(new.abstract_zh || ' ' || new.abstract_en)
        );
    END;
    CREATE TRIGGER papers_fts_update AFTER UPDATE OF arxiv_id, title_en, title_zh, abstract_zh, abstract_en ON papers
    BEGIN
        INSERT INTO papers_fts (papers_fts, rowid, title, abstract) VALUES (
            'delete',
            old.id,
            fts_text(old.arxiv_id || ' ' || old.title_en || ' ' || old.title_zh),
            fts_text(old.abstract_zh || ' ' || old.abstract_en)
        );
        INSERT INTO papers_fts (rowid, title, abstract) VALUES (
            new.id,
            fts_text(new.arxiv_id || ' ' || new.title_en || ' ' || new.title_zh),
            fts_text(new.abstract_zh || ' ' || new.abstract_en)
        );
    END;
    CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts (papers_fts, rowid, title, abstract) VALUES (
            'delete',
            old.id,
            fts_text(old.arxiv_id || ' ' || old.title_en || ' ' || old.title_zh),
            fts_text(old.abstract_zh || ' ' || old.abstract_en)
        );
    END
"""


@migration(3)
def arxiv_metadata(conn: sqlite3.Connection) -> None:
    """What arXiv says of a paper: English abstract, authors, categories (primary first), version,
    contributing sources and when it was last fetched. The English abstract is searchable too.

    Existing rows keep their FTS entries: the new triggers index `abstract_zh || ' ' || abstract_en`,
    which for an empty English abstract yields exactly the tokens migration 1 indexed.
    """
    _run(
        conn,
        """
        ALTER TABLE papers ADD COLUMN abstract_en TEXT NOT NULL DEFAULT '';
        ALTER TABLE papers ADD COLUMN authors TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE papers ADD COLUMN categories TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE papers ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE papers ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE papers ADD COLUMN fetched_at TEXT;
        DROP TRIGGER papers_fts_insert;
        DROP TRIGGER papers_fts_update;
        DROP TRIGGER papers_fts_delete;
        """
        + _FTS_TRIGGERS,
    )


@migration(4)
def sources(conn: sqlite3.Connection) -> None:
    """Where papers come from: each source's state (last success and error, retry time, HTTP validators),
    the rows a digest list held at its last fetch, the queries made today (arXiv asks for no repeats
    within a day), arXiv IDs arXiv did not know (asked again after a day), and Hugging Face upvotes."""
    _run(
        conn,
        """
        CREATE TABLE source_state (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            last_run_at TEXT,
            last_success_at TEXT,
            last_error_at TEXT,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            retry_at TEXT,
            etag TEXT,
            last_modified TEXT,
            papers_new INTEGER NOT NULL DEFAULT 0,
            papers_updated INTEGER NOT NULL DEFAULT 0,
            last_report TEXT
        );
        CREATE TABLE source_rows (
            source TEXT NOT NULL,
            arxiv_id TEXT NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (source, arxiv_id)
        ) WITHOUT ROWID;
        CREATE TABLE source_queries (
            query TEXT PRIMARY KEY,
            fetched_at TEXT NOT NULL
        );
        CREATE TABLE unknown_ids (
            arxiv_id TEXT PRIMARY KEY,
            checked_at TEXT NOT NULL
        );
        ALTER TABLE papers ADD COLUMN hf_upvotes INTEGER
        """,
    )


@migration(5)
def translations(conn: sqlite3.Connection) -> None:
    """Machine translations of English-only papers, one row per arXiv version, and daily model usage.

    A row is `done` (the Chinese is shown), or `failed`/`rejected` (transport error / output that did
    not pass validation) with `next_attempt_at` for the backoff. A new arXiv version has no row yet,
    so it is translated again. Tokens are kept per paper (every attempt) and per UTC day.
    """
    _run(
        conn,
        """
        CREATE TABLE translations (
            arxiv_id TEXT NOT NULL REFERENCES papers (arxiv_id) ON DELETE CASCADE ON UPDATE CASCADE,
            version INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('done', 'failed', 'rejected')),
            title_zh TEXT NOT NULL DEFAULT '',
            abstract_zh TEXT NOT NULL DEFAULT '',
            key_point TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            prompt_version INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER,
            last_error TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            translated_at TEXT,
            PRIMARY KEY (arxiv_id, version)
        ) WITHOUT ROWID;
        CREATE INDEX translations_retry ON translations (next_attempt_at) WHERE status != 'done';
        CREATE TABLE translation_usage (
            day TEXT PRIMARY KEY,
            requests INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            papers INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID
        """,
    )


@migration(6)
def search_index_state(conn: sqlite3.Connection) -> None:
    """Which folding built the FTS index (bot.storage.index): no row yet, so the next start rebuilds it once."""
    _run(
        conn,
        """
        CREATE TABLE search_index (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            folding TEXT NOT NULL,
            papers INTEGER NOT NULL,
            rebuilt_at TEXT NOT NULL
        )
        """,
    )


@migration(7)
def tag_provenance(conn: sqlite3.Connection) -> None:
    """Tags may come from the learned model and carry a confidence; topic names seen in catalogue lists
    are recorded with what they were filed under.

    `paper_topics` is rebuilt because SQLite cannot change a CHECK constraint in place; existing tags
    keep their source and get confidence 1. `topic_names` holds every catalogue name that is not
    exactly a topic name or alias: `variant` (filed under `topic` automatically), `doubtful` (close to
    `topic` but not filed), `new` (no topic; kept off the papers until adopted) and `adopted` (on
    enough papers to be a topic of its own). `papers` is a JSON list of the arXiv IDs that carry it.
    """
    _run(
        conn,
        """
        CREATE TABLE paper_topics_v7 (
            topic TEXT NOT NULL,
            paper_id INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
            source TEXT NOT NULL CHECK (source IN ('catalogue', 'rule', 'model')),
            confidence REAL NOT NULL DEFAULT 1.0 CHECK (confidence > 0 AND confidence <= 1),
            PRIMARY KEY (topic, paper_id)
        ) WITHOUT ROWID;
        INSERT INTO paper_topics_v7 (topic, paper_id, source) SELECT topic, paper_id, source FROM paper_topics;
        DROP TABLE paper_topics;
        ALTER TABLE paper_topics_v7 RENAME TO paper_topics;
        CREATE INDEX paper_topics_by_paper ON paper_topics (paper_id);
        CREATE TABLE topic_names (
            name TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('variant', 'doubtful', 'new', 'adopted')),
            topic TEXT,
            score REAL NOT NULL DEFAULT 0,
            papers TEXT NOT NULL DEFAULT '[]',
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    )


@migration(9)
def push_thread(conn: sqlite3.Connection) -> None:
    """Forum supergroups: the topic (message_thread_id) where the daily push goes, the one /subscribe was sent
    in; NULL means the General topic, and every chat that is not a forum."""
    conn.execute("ALTER TABLE chats ADD COLUMN push_thread_id INTEGER")


# A paper's date as a whole Julian day: 3 bytes per tag instead of 10 for the ISO text.
PUBLISHED_DAY = "CAST(julianday({}) AS INTEGER)"
TAG_DAY = PUBLISHED_DAY.format("p.published")  # in statements that insert tags joined to `papers p`


@migration(11)
def push_views(conn: sqlite3.Connection) -> None:
    """What the push planner reads for 100,000 chats, kept ready by triggers so its cost does not grow
    with the catalogue or with work done per chat.

    `chats.subscription_keys`: the chat's subscription keys ("kind:value", key order, joined by U+001F),
    rewritten whenever its subscriptions change; reading it is 3x cheaper than concatenating them per
    chat at every planning pass. `paper_topics.published_day`: the paper's date (Julian day) copied onto
    each tag, indexed with the topic and whether people tagged it, so "a topic's newest N papers,
    catalogue tags first" is a short index walk instead of sorting every tag of the catalogue (1.5M rows
    at 1M papers). Writers supply the day; a trigger fills it for any that does not, and another follows
    a paper whose date changes.
    """
    keys = (
        "(SELECT group_concat(k, char(31)) FROM (SELECT kind || ':' || value AS k FROM subscriptions"
        " WHERE chat_id = {} ORDER BY kind, value))"
    )
    day_of = "(SELECT " + PUBLISHED_DAY.format("published") + " FROM papers WHERE id = {})"
    _run(
        conn,
        f"""
        ALTER TABLE chats ADD COLUMN subscription_keys TEXT;
        UPDATE chats SET subscription_keys = {keys.format("chats.chat_id")};
        CREATE TRIGGER subscriptions_keys_insert AFTER INSERT ON subscriptions BEGIN
            UPDATE chats SET subscription_keys = {keys.format("NEW.chat_id")} WHERE chat_id = NEW.chat_id;
        END;
        CREATE TRIGGER subscriptions_keys_delete AFTER DELETE ON subscriptions BEGIN
            UPDATE chats SET subscription_keys = {keys.format("OLD.chat_id")} WHERE chat_id = OLD.chat_id;
        END;
        CREATE TRIGGER subscriptions_keys_update AFTER UPDATE ON subscriptions BEGIN
            UPDATE chats SET subscription_keys = {keys.format("OLD.chat_id")} WHERE chat_id = OLD.chat_id;
            UPDATE chats SET subscription_keys = {keys.format("NEW.chat_id")} WHERE chat_id = NEW.chat_id;
        END;
        ALTER TABLE paper_topics ADD COLUMN published_day INTEGER;
        UPDATE paper_topics SET published_day = {day_of.format("paper_topics.paper_id")};
        CREATE INDEX paper_topics_feed ON paper_topics (topic, source <> 'catalogue', published_day DESC);
        CREATE TRIGGER paper_topics_day AFTER INSERT ON paper_topics WHEN NEW.published_day IS NULL BEGIN
            UPDATE paper_topics SET published_day = {day_of.format("NEW.paper_id")}
            WHERE topic = NEW.topic AND paper_id = NEW.paper_id;
        END;
        CREATE TRIGGER papers_day AFTER UPDATE OF published ON papers WHEN OLD.published IS NOT NEW.published BEGIN
            UPDATE paper_topics SET published_day = {PUBLISHED_DAY.format("NEW.published")} WHERE paper_id = NEW.id;
        END
        """,
    )


def _fts_text(row: str) -> str:
    """The papers_fts values of `row` ('new' or 'old'): title, abstract (bot.storage.index)."""
    from bot.storage.index import ABSTRACT_TEXT, TITLE_TEXT

    def prefixed(expression: str) -> str:
        return " || ' ' || ".join(f"{row}.{column}" for column in expression.split(" || ' ' || "))

    return f"fts_text({prefixed(TITLE_TEXT)}), fts_text({prefixed(ABSTRACT_TEXT)})"


@migration(14)
def searchable_translations(conn: sqlite3.Connection) -> None:
    """Machine translations are searchable: a paper that arrived in English is found by the Chinese words
    of its translation, as its card shows them.

    The contentless index can only delete an entry given the exact text it indexed, so that text must be
    on the paper's own row: `papers.machine_title` / `machine_abstract` hold the newest done translation
    (copied by triggers on `translations`, the table the translation service writes), and the papers_fts
    triggers index them with the rest. An update that changes no indexed text no longer re-indexes.
    """
    best = (
        "coalesce((SELECT {} FROM translations t WHERE t.arxiv_id = {} AND t.status = 'done'"
        " ORDER BY t.version DESC LIMIT 1), '')"
    )

    def copy(arxiv_id: str) -> str:
        title, abstract = best.format("t.title_zh", arxiv_id), best.format("t.abstract_zh", arxiv_id)
        return (
            f"UPDATE papers SET machine_title = {title}, machine_abstract = {abstract}"
            f" WHERE arxiv_id = {arxiv_id} AND (machine_title IS NOT {title} OR machine_abstract IS NOT {abstract})"
        )

    changed = " OR ".join(
        f"old.{c} IS NOT new.{c}"
        for c in ("arxiv_id", "title_en", "title_zh", "abstract_zh", "abstract_en", "machine_title", "machine_abstract")
    )
    _run(
        conn,
        f"""
        ALTER TABLE papers ADD COLUMN machine_title TEXT NOT NULL DEFAULT '';
        ALTER TABLE papers ADD COLUMN machine_abstract TEXT NOT NULL DEFAULT '';
        DROP TRIGGER papers_fts_insert;
        DROP TRIGGER papers_fts_update;
        DROP TRIGGER papers_fts_delete;
        CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN
            INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.id, {_fts_text("new")});
        END;
        CREATE TRIGGER papers_fts_update AFTER UPDATE OF arxiv_id, title_en, title_zh, abstract_zh, abstract_en,
            machine_title, machine_abstract ON papers WHEN {changed}
        BEGIN
            INSERT INTO papers_fts (papers_fts, rowid, title, abstract) VALUES ('delete', old.id, {_fts_text("old")});
            INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.id, {_fts_text("new")});
        END;
        CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
            INSERT INTO papers_fts (papers_fts, rowid, title, abstract) VALUES ('delete', old.id, {_fts_text("old")});
        END;
        CREATE TRIGGER translations_search_insert AFTER INSERT ON translations WHEN new.status = 'done' BEGIN
            {copy("new.arxiv_id")};
        END;
        CREATE TRIGGER translations_search_update AFTER UPDATE ON translations BEGIN
            {copy("old.arxiv_id")};
            {copy("new.arxiv_id")};
        END;
        CREATE TRIGGER translations_search_delete AFTER DELETE ON translations BEGIN
            {copy("old.arxiv_id")};
        END;
        UPDATE papers SET machine_title = {best.format("t.title_zh", "papers.arxiv_id")},
            machine_abstract = {best.format("t.abstract_zh", "papers.arxiv_id")}
        WHERE arxiv_id IN (SELECT arxiv_id FROM translations WHERE status = 'done')
        """,
    )


@migration(15, rebuilds_parent=True)
def hong_kong_script(conn: sqlite3.Connection) -> None:
    """`chats.script` may be 'hant-hk' (traditional as Hong Kong writes it, OpenCC s2hk).

    SQLite cannot change a CHECK constraint in place, so `chats` is rebuilt from its own CREATE
    statement with only the constraint changed: every column, whichever migrations added it, and every
    row are kept, and its indexes and triggers are created again.
    """
    old_check = "CHECK (script IN ('hans', 'hant'))"
    table_sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'chats'").fetchone()[0]
    head = re.match(r'CREATE TABLE "?chats"? \(', table_sql)
    if old_check not in table_sql or head is None:
        raise RuntimeError(f"migration 15: unexpected chats table: {table_sql}")
    new_sql = "CREATE TABLE chats_v15 (" + table_sql[head.end() :].replace(
        old_check, "CHECK (script IN ('hans', 'hant', 'hant-hk'))"
    )
    dependents = [
        row[0]
        for row in conn.execute(
            "SELECT sql FROM sqlite_master"
            " WHERE tbl_name = 'chats' AND type IN ('index', 'trigger') AND sql IS NOT NULL"
        )
    ]
    before = conn.execute("SELECT count(*) FROM chats").fetchone()[0]
    conn.execute(new_sql)
    conn.execute("INSERT INTO chats_v15 SELECT * FROM chats")
    conn.execute("DROP TABLE chats")
    # Triggers on `subscriptions` name `chats`, missing for this moment; the modern RENAME re-checks
    # every trigger and fails on them, the legacy one renames the table alone.
    legacy = int(conn.execute("PRAGMA legacy_alter_table").fetchone()[0])
    conn.execute("PRAGMA legacy_alter_table = ON")
    try:
        conn.execute("ALTER TABLE chats_v15 RENAME TO chats")
    finally:
        conn.execute(f"PRAGMA legacy_alter_table = {legacy}")
    for sql in dependents:
        conn.execute(sql)
    after = conn.execute("SELECT count(*) FROM chats").fetchone()[0]
    if after != before:
        raise RuntimeError(f"migration 15: chats went from {before} to {after} rows")


# A paper's content hash (bot.storage.papers.content_hash): the first 16 bytes of its SHA-256 as 22
# characters of URL-safe base64. Until migration 16 it was all 32 bytes as 64 hex digits.
HASH_BYTES = 16


def hash_text(digest: bytes) -> str:
    """The stored form of a paper's content hash, from its SHA-256 digest."""
    return base64.urlsafe_b64encode(digest[:HASH_BYTES]).rstrip(b"=").decode("ascii")


def _short_hash(stored: str) -> str:
    """A hash stored before migration 16 (64 hex digits) in today's form; anything else as it is."""
    try:
        return hash_text(bytes.fromhex(stored)) if len(stored) == 64 else stored
    except ValueError:
        return stored


@migration(16)
def smaller_catalogue(conn: sqlite3.Connection) -> None:
    """The catalogue takes less room per paper; no row is lost and no query changes its results.

    - Content hashes are 22 characters instead of 64 (`hash_text`); stored hashes are converted with
      the same rule, so an unchanged paper still compares equal at its next ingest.
    - `papers_by_date` and `paper_topics_feed` are ascending; their readers walk them backwards. A
      descending index fills the pages it grows into only half: papers mostly arrive in date order,
      which is the left edge of a descending index, where every page split leaves two half-empty
      pages; at the right edge of an ascending one SQLite appends to a new page and leaves the old
      one full. After a bulk load of 100,000 papers: date index 60 -> 34 B per paper, feed 68 -> 39 B.
    """
    conn.create_function("short_hash_v16", 1, _short_hash, deterministic=True)
    _run(
        conn,
        """
        UPDATE papers SET content_hash = short_hash_v16(content_hash) WHERE length(content_hash) = 64;
        DROP INDEX papers_by_date;
        CREATE INDEX papers_by_date ON papers (published, arxiv_id);
        DROP INDEX paper_topics_feed;
        CREATE INDEX paper_topics_feed ON paper_topics (topic, source <> 'catalogue', published_day)
        """,
    )


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every registered migration newer than the database; return the resulting version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)"
    )
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    applied = {int(row[0]) for row in conn.execute("SELECT version FROM migrations")}
    # Newer than the database, or a gap below its version: migrations are developed in parallel and
    # may land out of number order (5 before 4), so a database at 5 still gets 4.
    pending = [v for v in sorted(MIGRATIONS) if v > current or (v not in applied and applied)]
    for version in pending:
        name, fn = MIGRATIONS[version]
        # PRAGMA foreign_keys is a no-op inside a transaction: switched off before BEGIN, back after.
        foreign_keys = int(conn.execute("PRAGMA foreign_keys").fetchone()[0])
        if version in REBUILDS:
            conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("BEGIN IMMEDIATE")
        try:
            fn(conn)
            if version in REBUILDS and conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                raise RuntimeError(f"migration {version} ({name}) left rows whose references are broken")
            conn.execute(
                "INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            conn.execute(f"PRAGMA user_version = {int(max(version, current))}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.execute(f"PRAGMA foreign_keys = {foreign_keys}")
        current = max(version, current)
    return current
