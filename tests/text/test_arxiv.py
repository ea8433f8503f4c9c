from datetime import date

import pytest

from bot.text.arxiv import find_arxiv_id, month_of, parse_arxiv_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2404.07965", "2404.07965"),
        ("2404.07965v2", "2404.07965"),
        ("arXiv:2404.07965v2", "2404.07965"),
        ("ARXIV: 2404.07965", "2404.07965"),
        ("https://arxiv.org/abs/2404.07965", "2404.07965"),
        ("http://arxiv.org/abs/2404.07965v3", "2404.07965"),
        ("https://arxiv.org/pdf/2404.07965", "2404.07965"),
        ("https://arxiv.org/pdf/2404.07965.pdf", "2404.07965"),
        ("https://arxiv.org/pdf/2404.07965v1.pdf", "2404.07965"),
        ("https://www.arxiv.org/abs/2404.07965/", "2404.07965"),
        ("<https://arxiv.org/abs/2404.07965>", "2404.07965"),
        ("0704.0001", "0704.0001"),
        ("1501.00001", "1501.00001"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("https://arxiv.org/abs/hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("MATH.gt/0309136", "math.GT/0309136"),
    ],
)
def test_every_accepted_spelling_gives_the_canonical_id(text: str, expected: str) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2413.00001",  # month 13
        "2400.00001",  # month 0
        "0612.0001",  # before new-style IDs existed
        "1412.00001",  # five digits before 2015
        "https://example.com/abs/2404.07965",
        "2404.07965 DROP TABLE papers",
        "240407965",
        "hep-th/9913001",
    ],
)
def test_anything_else_is_rejected(text: str) -> None:
    assert parse_arxiv_id(text) is None


def test_find_arxiv_id_in_mixed_text() -> None:
    assert find_arxiv_id("see arXiv:2404.07965v2 量化") == "2404.07965"
    assert find_arxiv_id("量化 模型") is None


def test_month_of_new_and_old_ids() -> None:
    assert month_of("2404.07965") == date(2024, 4, 1)
    assert month_of("hep-th/9901001") == date(1999, 1, 1)
    assert month_of("math.GT/0309136") == date(2003, 9, 1)
