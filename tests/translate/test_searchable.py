"""Migration 14: a paper that arrived in English is found by the Chinese of its machine translation, in
either script, and the contentless index stays exact through new translations, versions and deletes."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from bot.catalogue.model import MachineTranslation
from bot.storage.db import Database, connect
from bot.storage.index import rebuild
from bot.storage.papers import PaperStore
from bot.storage.translations import Candidate, Tokens, TranslationStatus, TranslationStore
from tests.translate.helpers import ABSTRACTS, NOW, english, write_papers

QUANT = MachineTranslation("專家混合模型的訓練後量化", "我們研究專家混合模型的訓練後量化，並旋轉離群通道。", "", "m")
MEMORY = MachineTranslation("網頁代理的情節記憶", "我們為網頁代理加入情節記憶，成功率顯著提升。", "", "m")
QUERIES = ("量化", "訓練後量化", "训练后量化", "情节记忆", "網頁代理", "experts", "hallucinate", "2605.00002")


async def found(papers: PaperStore, query: str) -> list[str]:
    page = await papers.search(query, limit=10)
    return sorted(hit.paper.arxiv_id for hit in page.hits if not page.broadened)


async def record(store: TranslationStore, arxiv_id: str, version: int, text: MachineTranslation) -> None:
    await store.record(
        Candidate(arxiv_id, version, "t", "a", False), TranslationStatus.DONE, now=NOW, tokens=Tokens(1, 1), text=text
    )


async def test_machine_chinese_is_searchable_and_the_index_stays_exact(db_path: Path) -> None:
    write_papers(db_path, [english("2605.00001", ABSTRACTS[0]), english("2605.00002", ABSTRACTS[1])])
    database = await Database.open(db_path)
    try:
        papers, store = PaperStore(database), TranslationStore(database)
        assert await found(papers, "量化") == []  # English only: a Chinese query finds nothing
        await record(store, "2605.00002", 1, QUANT)
        for query in ("量化", "訓練後量化", "训练后量化"):  # either script
            assert await found(papers, query) == ["2605.00002"], query
        assert await found(papers, "experts") == ["2605.00002"]  # the English is still indexed

        # A new version of the paper, then its translation: the newer text replaces the older.
        write_papers(db_path, [english("2605.00002", ABSTRACTS[1], version=2)])
        await record(store, "2605.00002", 2, MEMORY)
        assert await found(papers, "情节记忆") == ["2605.00002"]
        assert await found(papers, "訓練後量化") == []
        before = {query: await found(papers, query) for query in QUERIES}

        with closing(connect(db_path)) as conn:
            rebuild(conn, lambda done, total: None)  # what a fresh index of the same rows holds
        assert {query: await found(papers, query) for query in QUERIES} == before

        with closing(connect(db_path)) as conn, conn:
            conn.execute("DELETE FROM translations WHERE arxiv_id = '2605.00002' AND version = 2")
        assert await found(papers, "情节记忆") == []
        assert await found(papers, "訓練後量化") == ["2605.00002"]  # back to the version 1 translation
        with closing(connect(db_path)) as conn, conn:
            conn.execute("DELETE FROM papers WHERE arxiv_id = '2605.00002'")
            # After the deletes, the index holds exactly one entry per remaining paper.
            assert conn.execute("SELECT count(*) FROM papers_fts").fetchone()[0] == 1
        assert await found(papers, "訓練後量化") == []
    finally:
        await database.close()
