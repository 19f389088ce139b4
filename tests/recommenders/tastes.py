"""A tiny workspace whose right answers are known: two groups of users with disjoint tastes.

Users 0-9 like action films (items 0-5), users 10-19 like romances (items 6-11); each user has
seen four of their group's six items, so the two they have not seen are what any personal
model should put first. Item 0 is the most liked of all (every action fan and users 10-11
too): what popularity puts first. User 20 has no history at all (cold).
"""

from __future__ import annotations

import numpy as np

from launchpoint.recommenders.data import InteractionLog, ItemMetadata, TrainingData

N_USERS = 21
ACTION = np.arange(6)
ROMANCE = np.arange(6, 12)
COLD_USER = 20


def taste_log() -> InteractionLog:
    rng = np.random.default_rng(7)
    users, items, times = [], [], []
    clock = 1_700_000_000.0
    for user in range(20):
        own = ACTION if user < 10 else ROMANCE
        seen = rng.choice(own, 4, replace=False)
        if user < 10 and 0 not in seen:
            seen[0] = 0
        for item in seen:
            clock += 60
            users.append(user)
            items.append(int(item))
            times.append(clock)
    for user in (10, 11):  # two romance fans also liked the big action hit
        clock += 60
        users.append(user)
        items.append(0)
        times.append(clock)
    titles = [f"Action film {n}: explosions, car chases and heists" for n in range(6)]
    titles += [f"Romance film {n}: love, weddings and letters" for n in range(6)]
    categories = [["Action"]] * 6 + [["Romance"]] * 6
    metadata = ItemMetadata.build(titles, [""] * 12, categories, np.full(12, 1.6e9))
    return InteractionLog(
        user_ids=tuple(f"u{n}" for n in range(N_USERS)),
        item_ids=tuple(f"i{n}" for n in range(12)),
        users=np.array(users, dtype=np.intp),
        items=np.array(items, dtype=np.intp),
        weights=np.full(len(users), 3.0),
        timestamps=np.array(times),
        metadata=metadata,
    )


def taste_data() -> TrainingData:
    return taste_log().training_data()


def unseen(data: TrainingData, user: int) -> np.ndarray:
    return np.setdiff1d(np.arange(data.n_items), data.positive[user].indices)
