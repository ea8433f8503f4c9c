"""Topic-name resolution: how often written variants land on the right topic, by threshold.

    python benchmarks/topic_names.py

The variants and the new-topic names below were written for this measurement (no other month's
seed list was consulted); tests/catalogue/test_names.py asserts the chosen threshold on them.
Prints, per similarity threshold: variants filed under the right topic, filed under a wrong one,
left unfiled, and new names wrongly filed under some topic. Exits non-zero when it measured nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.catalogue.names import DEFAULT_THRESHOLD, NameResolver
from bot.catalogue.topics import Taxonomy

ROOT = Path(__file__).resolve().parents[1]

# (written, topic it means, class of variation)
VARIANTS: list[tuple[str, str, str]] = [
    # longer or shorter forms
    ("多模態大型語言模型", "多模態LLM", "longer/shorter"),
    ("多模態學習", "多模態LLM", "longer/shorter"),
    ("上下文", "上下文長度", "longer/shorter"),
    ("超長上下文", "上下文長度", "longer/shorter"),
    ("上下文長度擴展", "上下文長度", "longer/shorter"),
    ("模型量化", "量化", "longer/shorter"),
    ("LLM評估", "評估", "longer/shorter"),
    ("代理", "LLM代理", "longer/shorter"),
    ("小型語言模型", "小型LLM", "longer/shorter"),
    ("紅隊", "紅隊評測", "longer/shorter"),
    ("領域LLM", "特定領域LLM", "longer/shorter"),
    ("視覺", "視覺模型", "longer/shorter"),
    ("新型架構", "新架構", "longer/shorter"),
    ("參數高效", "PEFT", "longer/shorter"),
    # the other script
    ("多模态大模型", "多模態LLM", "script"),
    ("红队测试", "紅隊評測", "script"),
    ("模型压缩", "模型壓縮", "script"),
    ("指令调整", "指令調整", "script"),
    ("对抗攻击", "對抗攻擊", "script"),
    ("基础大模型", "基礎LLM", "script"),
    # English names
    ("Model Quantization", "量化", "english"),
    ("Multimodal Large Language Models", "多模態LLM", "english"),
    ("Agentic LLMs", "LLM代理", "english"),
    ("Long-Context Modeling", "上下文長度", "english"),
    ("Red-Teaming", "紅隊評測", "english"),
    ("Adversarial Robustness", "對抗攻擊", "english"),
    ("Instruction Fine-Tuning", "指令調整", "english"),
    ("LLM Alignment Methods", "對齊", "english"),
    ("Small Language Models", "小型LLM", "english"),
    ("Vision Models", "視覺模型", "english"),
    # suffixes
    ("量化方法", "量化", "suffix"),
    ("對齊技術", "對齊", "suffix"),
    ("評估框架", "評估", "suffix"),
    ("微調策略", "微調", "suffix"),
    ("提示工程方法", "提示工程", "suffix"),
    ("指令調整方法", "指令調整", "suffix"),
    ("紅隊測試", "紅隊評測", "suffix"),
    ("基準測評", "基準", "suffix"),
    ("模型壓縮技術", "模型壓縮", "suffix"),
    ("Prompting Techniques", "提示工程", "suffix"),
    # abbreviations
    ("PTQ", "量化", "abbreviation"),
    ("QAT", "量化", "abbreviation"),
    ("SSMs", "新架構", "abbreviation"),
    ("LVLMs", "多模態LLM", "abbreviation"),
    ("PEFT方法", "PEFT", "abbreviation"),
    ("VLMs", "多模態LLM", "abbreviation"),
]

# Topics the taxonomy does not have: none of these may be filed under an existing topic.
NEW_NAMES: list[str] = [
    "檢索增強生成",
    "RAG",
    "Retrieval-Augmented Generation",
    "語音識別",
    "Speech Recognition",
    "強化學習",
    "機器翻譯",
    "程式碼生成",
    "數學推理",
    "幻覺",
    "Hallucination",
    "知識編輯",
    "推薦系統",
    "聯邦學習",
    "圖神經網路",
    "模型合併",
    "多語言",
    "機器人",
    "AI安全",
    "可解釋性",
    "Reasoning",
    "資料集",
]

THRESHOLDS = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def measure(resolver: NameResolver) -> tuple[int, int, int, int]:
    """(right, wrong, unfiled, new names filed) on the lists above."""
    right = wrong = unfiled = false_filed = 0
    for written, topic, _ in VARIANTS:
        found = resolver.resolve(written)
        if not found.filed:
            unfiled += 1
        elif found.topic == topic:
            right += 1
        else:
            wrong += 1
    false_filed = sum(resolver.resolve(name).filed for name in NEW_NAMES)
    return right, wrong, unfiled, false_filed


def main() -> int:
    taxonomy = Taxonomy.load(ROOT / "config" / "topics.toml")
    exact = sum(taxonomy.resolve(w) is not None and taxonomy.resolve(w).name == t for w, t, _ in VARIANTS)  # type: ignore[union-attr]
    print(f"{len(VARIANTS)} written variants, {len(NEW_NAMES)} new-topic names")
    print(f"baseline (folded name or alias only): {exact}/{len(VARIANTS)} variants filed right, 0 new names filed")
    print("threshold  right  wrong  unfiled  new-filed")
    for threshold in THRESHOLDS:
        right, wrong, unfiled, false_filed = measure(NameResolver(taxonomy, threshold))
        mark = "  <- default" if threshold == DEFAULT_THRESHOLD else ""
        print(f"{threshold:9.2f}  {right:5d}  {wrong:5d}  {unfiled:7d}  {false_filed:9d}{mark}")
    right, *_ = measure(NameResolver(taxonomy))
    print(f"default {DEFAULT_THRESHOLD}: {right}/{len(VARIANTS)} vs baseline {exact}/{len(VARIANTS)}")
    return 0 if VARIANTS and right else 1


if __name__ == "__main__":
    raise SystemExit(main())
