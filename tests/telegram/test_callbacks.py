import pytest

from bot.telegram.callbacks import Action, Callback, decode, encode, fits


@pytest.mark.parametrize(
    ("action", "arg", "page", "flag"),
    [
        (Action.PAPER, "2404.07965", None, False),
        (Action.PAPER, "hep-th/9901001", None, False),
        (Action.SEARCH, "12", 3, False),
        (Action.SEARCH, "12", 0, True),
        (Action.TOPIC_TOGGLE, "多模態LLM", None, False),
        (Action.KEYWORD_SUBSCRIBE, "7", None, False),
        (Action.LANG, "hant", None, False),
    ],
)
def test_round_trip(action: Action, arg: str, page: int | None, flag: bool) -> None:
    data = encode(action, arg, page=page, flag=flag)
    assert len(data.encode()) <= 64
    assert decode(data) == Callback(action, arg, page or 0, flag)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "x:1",
        "p:not-an-id",
        "p:2404.07965v2",  # we never emit versions
        "s:abc:1",
        "s:1",
        "s:1:2:c",
        "l:fr",
        "ks:drop table",
        "tt:",
        "noop:1",
        "p:" + "9" * 70,
        "tt:a:b",
    ],
)
def test_forged_or_stale_data_decodes_to_none(data: str | None) -> None:
    assert decode(data) is None


def test_encode_refuses_data_over_64_bytes() -> None:
    long_topic = "主題" * 20
    assert not fits(Action.TOPIC_TOGGLE, long_topic)
    with pytest.raises(ValueError):
        encode(Action.TOPIC_TOGGLE, long_topic)
