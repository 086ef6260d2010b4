"""The sending policy: suppression, reply keywords, the opt-out footer, quiet hours, the
daily cap, learned blocked words, pricing and the monthly spending cap.
"""

from .daily_cap import daily_cap
from .footer import check_template_footer, with_footer
from .pricing import Estimate, estimate, part_counter, parts, price_per_part, queued_cost
from .quiet_hours import quiet_until
from .replies import apply_reply_keywords, normalize_reply, reply_intent
from .spending import month_spend, month_spends, monthly_cap
from .suppression import (
    Suppressed,
    apply_bounces,
    suppress,
    suppress_many,
    suppressed,
    suppressed_filter,
    unsuppress,
)
from .words import (
    blocked_words_in,
    learn_blocked_words,
    learned_generation,
    learned_words,
    set_blocked_words_active,
)

__all__ = [
    "Estimate",
    "Suppressed",
    "apply_bounces",
    "apply_reply_keywords",
    "blocked_words_in",
    "check_template_footer",
    "daily_cap",
    "estimate",
    "learn_blocked_words",
    "learned_generation",
    "learned_words",
    "month_spend",
    "month_spends",
    "monthly_cap",
    "normalize_reply",
    "part_counter",
    "parts",
    "price_per_part",
    "queued_cost",
    "quiet_until",
    "reply_intent",
    "set_blocked_words_active",
    "suppress",
    "suppress_many",
    "suppressed",
    "suppressed_filter",
    "unsuppress",
    "with_footer",
]
