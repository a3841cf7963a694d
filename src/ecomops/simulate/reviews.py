"""Product reviews in Chinese and English. The rating follows the product's latent quality (lower after a
return) and the text is assembled from phrases of the rating's sentiment, naming the category's key
aspect, so sentiment models (SnowNLP, VADER) have real signal to find."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecomops.simulate.calendar import US_PER_DAY
from ecomops.simulate.categories import CATEGORIES

REVIEW_PROBABILITY = 0.22
REVIEW_PROBABILITY_AFTER_RETURN = 0.45
RATING_CUTS = np.array([0.5, 0.62, 0.74, 0.84])

# Per language, per sentiment (negative, neutral, positive): titles, openers, aspect templates, closers.
PHRASES: dict[str, tuple[dict[str, tuple[str, ...]], ...]] = {
    "zh": (
        {
            "title": ("差评", "不推荐", "很失望"),
            "open": ("非常失望，", "太差了，", "后悔购买，", "不推荐，"),
            "aspect": ("{a}很差，", "{a}有问题，", "{a}完全不行，"),
            "close": ("和描述不符。", "用了两天就坏了。", "退货了，客服还不理人。", "质量太差了，浪费钱。"),
        },
        {
            "title": ("一般", "还可以", "中规中矩"),
            "open": ("一般般，", "还行吧，", "中规中矩，"),
            "aspect": ("{a}一般，", "{a}马马虎虎，"),
            "close": ("价格有点贵。", "物流稍慢。", "凑合能用。"),
        },
        {
            "title": ("好评", "非常满意", "值得购买"),
            "open": ("非常满意！", "质量很好，", "超出预期，", "很喜欢，"),
            "aspect": ("{a}很好，", "{a}非常棒，", "{a}没得说，"),
            "close": ("物流很快，包装完好。", "性价比很高，会回购。", "推荐购买！", "客服态度也很好。"),
        },
    ),
    "en": (
        {
            "title": ("Disappointed", "Poor quality", "Not recommended"),
            "open": ("Very disappointed. ", "Terrible. ", "Would not recommend. "),
            "aspect": ("The {a} is poor. ", "Awful {a}. ", "The {a} is a problem. "),
            "close": ("Not as described.", "Broke after two days.", "Returned it, a waste of money."),
        },
        {
            "title": ("It's okay", "Average", "Fine"),
            "open": ("It's okay. ", "Average product. ", "Nothing special. "),
            "aspect": ("The {a} is fine. ", "The {a} is acceptable. "),
            "close": ("A bit pricey.", "Delivery was slow.", "Does the job."),
        },
        {
            "title": ("Great product", "Love it", "Worth it"),
            "open": ("Love it! ", "Excellent quality. ", "Really happy with this purchase. "),
            "aspect": ("The {a} is great. ", "Great {a}. ", "The {a} is excellent. "),
            "close": (
                "Fast delivery and nicely packed.",
                "Great value, will buy again.",
                "Highly recommend!",
            ),
        },
    ),
}
LANGUAGES = ("zh", "en")


@dataclass
class Reviews:
    line: np.ndarray  # index into kept order lines
    rating: np.ndarray
    language: np.ndarray  # index into LANGUAGES
    created_at: np.ndarray
    title: list[str]
    body: list[str]


def sentiment_of(rating: np.ndarray) -> np.ndarray:
    """0 negative (1-2 stars), 1 neutral (3), 2 positive (4-5)."""
    return np.where(rating <= 2, 0, np.where(rating == 3, 1, 2))


def write_reviews(
    rng: np.random.Generator,
    as_of_us: int,
    category: np.ndarray,
    quality: np.ndarray,
    paid_at: np.ndarray,
    refunded_at: np.ndarray,
    locale: np.ndarray,
    excluded: np.ndarray,
) -> Reviews:
    """Per kept line: its category, product quality, payment time, refund time (-1 none), buyer locale."""
    returned = refunded_at >= 0
    p = np.where(returned, REVIEW_PROBABILITY_AFTER_RETURN, REVIEW_PROBABILITY)
    wait = ((4 + rng.random(len(p)) * 16) * US_PER_DAY).astype(np.int64)
    created = np.where(returned, refunded_at + US_PER_DAY, paid_at + wait)
    line = np.flatnonzero((rng.random(len(p)) < p) & ~excluded & (created < as_of_us))
    score = quality[line] + rng.normal(0.0, 0.12, len(line)) - 0.35 * returned[line]
    rating = (1 + np.digitize(score, RATING_CUTS)).astype(np.int8)
    language = locale[line].astype(np.int8)
    mood = sentiment_of(rating)
    picks = rng.random((len(line), 4))
    titles, bodies = [], []
    for j in range(len(line)):
        lang = LANGUAGES[language[j]]
        bank = PHRASES[lang][mood[j]]
        cat = CATEGORIES[category[line[j]]]
        aspect = cat.aspect_zh if lang == "zh" else cat.aspect_en

        def pick(part: str, r: float, bank: dict[str, tuple[str, ...]] = bank) -> str:
            options = bank[part]
            return options[int(r * len(options))]

        titles.append(pick("title", picks[j, 0]))
        body = (
            pick("open", picks[j, 1])
            + pick("aspect", picks[j, 2]).format(a=aspect)
            + pick("close", picks[j, 3])
        )
        bodies.append(body[0].upper() + body[1:] if lang == "en" else body)
    return Reviews(line, rating, language, created[line], titles, bodies)
