"""The staff app's users on PostgreSQL: a new user never takes over an email that already signs
in (at any shop); two owners demoting or removing each other at once leave the shop one owner;
a role change ends the user's earlier sessions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from services.gateway.adapters.postgres import PooledUsers
from services.gateway.domain.access import new_user
from services.gateway.service_layer.ports import LastOwner
from shared.db import make_pool
from tests.integration.helpers import ServiceDb

pytestmark = pytest.mark.integration


def test_a_new_user_never_takes_an_email_that_signs_in_elsewhere(service_db: ServiceDb) -> None:
    pool = make_pool(service_db("gateway"), min_size=1, max_size=2)
    users = PooledUsers(pool)
    first = new_user("shop-a", "ana@example.com", "Ana", "office")
    assert users.create(first, "hash-a")
    assert not users.create(new_user("shop-b", "ana@example.com", "Mallory", "owner"), "hash-b")
    found = users.by_email("ana@example.com")
    assert found is not None and found[0].shop_id == "shop-a" and found[1] == "hash-a"
    pool.close()


def test_two_owners_demoting_each_other_at_once_leave_one_owner(service_db: ServiceDb) -> None:
    pool = make_pool(service_db("gateway"), min_size=2, max_size=4)
    users = PooledUsers(pool)
    one = new_user("shop-a", "one@example.com", "One", "owner")
    two = new_user("shop-a", "two@example.com", "Two", "owner")
    for user in (one, two):
        users.create(user, "hash")
    before = {user.user_id: users.version(user.user_id) for user in (one, two)}

    def demote(user_id: str) -> str:
        try:
            return "changed" if users.change_role("shop-a", user_id, "office") else "missing"
        except LastOwner:
            return "refused"

    for _ in range(5):
        with ThreadPoolExecutor(2) as pool_of_two:
            outcomes = sorted(pool_of_two.map(demote, [one.user_id, two.user_id]))
        owners = [u for u in users.of_shop("shop-a") if u.role == "owner"]
        assert len(owners) == 1, outcomes
        for user in (one, two):
            users.change_role("shop-a", user.user_id, "owner")
    # Whoever was demoted in a round had their sessions ended (twice: demoted, promoted back).
    demoted = [u for u in (one, two) if users.version(u.user_id) > before[u.user_id]]
    assert demoted
    assert all(users.current(u.user_id, before[u.user_id]) is None for u in demoted)
    users.change_role("shop-a", one.user_id, "office")  # two stays the owner
    with pytest.raises(LastOwner):
        users.remove("shop-a", two.user_id)
    with pytest.raises(LastOwner):
        users.change_role("shop-a", two.user_id, "technician")
    assert not users.remove("shop-b", one.user_id)  # another shop's user: nothing happens
    pool.close()
