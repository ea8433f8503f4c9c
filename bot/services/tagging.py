"""After papers are written: settle the topic names no topic answers to, and tag papers left without
any topic with the learned model.

`settle_topics(conn, taxonomy)` runs inside the writer's transaction (ingest) or through
`Database.write` (other sources, after they store papers):

1. every catalogue tag whose name is no topic of the taxonomy is looked at again (bot.catalogue.names):
   filed under a topic if the taxonomy now knows it (an alias was added), adopted as a topic of its
   own once it is on `adopt_after` papers, otherwise taken off the papers and recorded in
   `topic_names` with them (new / doubtful) for `python -m bot topics --unmapped`;
2. papers with no tag at all get the tagger's (rules, then the model trained on the newest
   catalogue-tagged papers): every paper stays reachable through some topic.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.catalogue.model import TagSource
from bot.catalogue.names import NameStatus, Resolution
from bot.catalogue.tagger import Method, Tagger
from bot.catalogue.topics import Taxonomy
from bot.storage import topic_names as store

__all__ = ["TRAIN_LIMIT", "Settlement", "settle_topics"]

TRAIN_LIMIT = 5000  # newest catalogue-tagged papers the model learns from (training stays within seconds)


@dataclass
class Settlement:
    """What settling changed, for the ingest report."""

    variants: dict[str, Resolution] = field(default_factory=dict)  # written name -> filed automatically
    unfiled: dict[str, tuple[Resolution, int]] = field(default_factory=dict)  # name -> (resolution, papers)
    adopted: list[str] = field(default_factory=list)
    refiled: dict[str, str] = field(default_factory=dict)  # name -> topic it now answers to
    rule_tagged: int = 0
    model_tagged: int = 0

    def lines(self) -> list[str]:
        """Report lines: which words were mapped where, what was left aside or adopted."""
        out: list[str] = []
        if self.variants:
            mapped = ", ".join(f"{w} -> {r.topic} ({r.how})" for w, r in sorted(self.variants.items()))
            out.append(f"topic names filed under a topic: {mapped}")
        if self.refiled:
            out.append("topic names now filed: " + ", ".join(f"{w} -> {t}" for w, t in sorted(self.refiled.items())))
        if self.adopted:
            out.append("new topics adopted: " + ", ".join(self.adopted))
        if self.unfiled:
            parts = []
            for name, (res, papers) in sorted(self.unfiled.items()):
                near = f", near {res.topic}" if res.status is NameStatus.DOUBTFUL else ""
                parts.append(f"{name} ({res.status}{near}, {papers} paper{'s' if papers != 1 else ''})")
            out.append("topic names not filed (see `topics --unmapped`): " + ", ".join(parts))
        if self.rule_tagged or self.model_tagged:
            out.append(
                f"papers without topics tagged afterwards: {self.rule_tagged} by rules,"
                f" {self.model_tagged} by the model"
            )
        return out


def settle_topics(
    conn: sqlite3.Connection,
    taxonomy: Taxonomy,
    *,
    variants: Mapping[str, tuple[Resolution, list[str]]] | None = None,
    tagger: Tagger | None = None,
) -> Settlement:
    """Adopt, re-file or set aside unfiled topic names; tag papers left without topics (see module doc).

    `variants`: names the caller filed automatically while preparing papers, with their papers, to
    record them for the operator. `tagger`: a model tagger trained on this catalogue beforehand, so
    none is trained inside the transaction (used unless this settlement adopts a new topic, which it
    does not know). Must run inside a transaction.
    """
    result = Settlement()
    stored = store.load_names(conn)
    taxonomy.adopt(name for name, row in stored.items() if row.status == NameStatus.ADOPTED)
    rows: list[store.NameRow] = []
    for written, (resolution, papers) in (variants or {}).items():
        if resolution.status is NameStatus.VARIANT:
            result.variants[written] = resolution
            old = stored.get(written)
            merged = sorted(set(papers) | set(old.papers if old else ()))
            rows.append(
                store.NameRow(written, str(resolution.status), resolution.topic, resolution.score, tuple(merged))
            )
    drop: list[str] = []
    for name, papers in store.unfiled_tags(conn, taxonomy.names).items():
        resolution = taxonomy.resolve_name(name)
        old = stored.get(name)
        merged = sorted(set(papers) | set(old.papers if old else ()))
        if resolution.filed and resolution.topic is not None:
            # The taxonomy learned the name (a new alias): its papers join the topic.
            store.insert_tags(
                conn, [(arxiv_id, resolution.topic, str(TagSource.CATALOGUE), 1.0) for arxiv_id in merged]
            )
            drop.append(name)
            result.refiled[name] = resolution.topic
            rows.append(store.NameRow(name, str(NameStatus.VARIANT), resolution.topic, resolution.score, tuple(merged)))
        elif len(merged) >= taxonomy.adopt_after:
            store.restore_tags(conn, name, merged)
            taxonomy.adopt([name])
            result.adopted.append(name)
            rows.append(store.NameRow(name, str(NameStatus.ADOPTED), None, 0.0, tuple(merged)))
        else:
            drop.append(name)
            result.unfiled[name] = (resolution, len(merged))
            rows.append(store.NameRow(name, str(resolution.status), resolution.topic, resolution.score, tuple(merged)))
    store.drop_tags(conn, drop)
    store.save_names(conn, rows)
    _tag_untagged(conn, taxonomy, result, None if result.adopted else tagger)
    return result


def _tag_untagged(conn: sqlite3.Connection, taxonomy: Taxonomy, result: Settlement, tagger: Tagger | None) -> None:
    untagged = store.read(conn, store.untagged_ids(conn))
    if not untagged:
        return
    if tagger is None:
        method = Method(taxonomy.tagging)
        training = store.read(conn, store.catalogue_tagged_ids(conn, TRAIN_LIMIT)) if method is not Method.RULES else []
        tagger = Tagger.train(taxonomy, training, method)
    rows: list[tuple[str, str, str, float]] = []
    for paper, tags in zip(untagged, tagger.tag_many(untagged), strict=True):
        for tag in tags:
            rows.append((paper.arxiv_id, tag.topic, str(tag.source), tag.confidence))
        if tags:
            if tags[0].source is TagSource.MODEL:
                result.model_tagged += 1
            else:
                result.rule_tagged += 1
    store.insert_tags(conn, rows)


def format_names(rows: Mapping[str, store.NameRow], taxonomy: Taxonomy, *, shown: int = 5) -> str:
    """`python -m bot topics --unmapped`: names not filed (new, doubtful) with their papers, then the
    ones filed automatically and the adopted ones, so an operator can add an alias or correct a filing."""
    by_status: dict[str, list[store.NameRow]] = {}
    for row in rows.values():
        by_status.setdefault(row.status, []).append(row)

    def papers(row: store.NameRow) -> str:
        ids = ", ".join(row.papers[:shown]) + (f" … (+{len(row.papers) - shown})" if len(row.papers) > shown else "")
        return f"{len(row.papers)} paper{'s' if len(row.papers) != 1 else ''}: {ids}"

    out: list[str] = []
    unfiled = sorted(
        by_status.get(NameStatus.NEW, []) + by_status.get(NameStatus.DOUBTFUL, []),
        key=lambda r: (-len(r.papers), r.name),
    )
    out.append(
        f"Topic names not filed under a topic ({len(unfiled)}); each becomes a topic of its own on "
        f"{taxonomy.adopt_after} papers, or add it as an alias in config/topics.toml:"
    )
    for row in unfiled:
        near = f" — near {row.topic} ({row.score:.2f})" if row.status == NameStatus.DOUBTFUL and row.topic else ""
        out.append(f"  {row.name}  [{row.status}{near}]  {papers(row)}")
    if not unfiled:
        out.append("  (none)")
    variants = sorted(by_status.get(NameStatus.VARIANT, []), key=lambda r: (r.topic or "", r.name))
    if variants:
        out.append(f"Filed automatically (similarity >= {taxonomy.name_threshold}; make an alias or correct):")
        out.extend(f"  {row.name} -> {row.topic} ({row.score:.2f})  {papers(row)}" for row in variants)
    adopted = by_status.get(NameStatus.ADOPTED, [])
    if adopted:
        out.append("Adopted as topics of their own:")
        out.extend(f"  {row.name}  {papers(row)}" for row in adopted)
    return "\n".join(out)
