from bot.text.normalize import Script, fold, script_for_language, strip_invisible, to_script


def test_fold_ignores_script_case_width_and_invisible_characters() -> None:
    assert fold("多模態LLM") == fold("多模态llm") == fold("多模态ＬＬＭ") == fold("多\u200b模態LLM\u200f")


def test_fold_keeps_different_words_apart() -> None:
    assert fold("量化") != fold("對齊")


def test_to_script_converts_both_ways() -> None:
    assert to_script("数据集", Script.TRADITIONAL) == "資料集"  # Taiwan phrasing (s2twp)
    assert to_script("對齊與微調", Script.SIMPLIFIED) == "对齐与微调"
    assert to_script("GPT-4 <b>", Script.TRADITIONAL) == "GPT-4 <b>"


def test_hong_kong_script_uses_hong_kong_forms_whatever_the_source_script() -> None:
    assert to_script("订阅这里的群组", Script.HONG_KONG) == "訂閲這裏的羣組"
    # Taiwan-form traditional text (the catalogue's, machine translations) is brought to Hong Kong forms too.
    assert to_script("訂閱這裡的群組，啟動", Script.HONG_KONG) == "訂閲這裏的羣組，啓動"
    assert to_script("訂閲這裏", Script.SIMPLIFIED) == "订阅这里"
    assert to_script("GPT-4 <b>", Script.HONG_KONG) == "GPT-4 <b>"
    assert to_script("", Script.HONG_KONG) == ""


def test_strip_invisible_removes_zero_width_and_bidi_controls() -> None:
    assert strip_invisible("a\u200bb\u202ec\ufeffd") == "abcd"


def test_script_follows_telegram_language_code() -> None:
    code: str | None
    for code in ("zh-hant", "zh-TW", "zh-hant-tw"):
        assert script_for_language(code) is Script.TRADITIONAL
    for code in ("zh-hk", "zh_HK", "zh-mo", "zh-hant-hk"):
        assert script_for_language(code) is Script.HONG_KONG
    for code in ("zh-hans", "zh", "zh-cn", "en", None, ""):
        assert script_for_language(code) is Script.SIMPLIFIED


def test_zero_width_joiner_inside_emoji_is_kept() -> None:
    assert strip_invisible("👩\u200d💻") == "👩\u200d💻"
    assert strip_invisible("量\u200d化") == "量化"
