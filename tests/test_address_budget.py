"""AddressBudget's table: `free` answers per address and window go out at once, later ones are
held; windows close; a flood of addresses shares one window instead of growing the table."""

from ledgrab.utils.address_budget import AddressBudget


class HandClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_past_the_free_refusals_an_address_is_held_and_others_are_not():
    budget = AddressBudget(free=3, delay_s=1.5, clock=HandClock())
    assert [budget.held_s("10.0.0.9") for _ in range(5)] == [0, 0, 0, 1.5, 1.5]
    assert budget.held_s("10.0.0.7") == 0


def test_a_new_window_frees_the_address_again():
    clock = HandClock()
    budget = AddressBudget(free=1, delay_s=1.0, window_s=60, clock=clock)
    assert [budget.held_s("10.0.0.9") for _ in range(2)] == [0, 1.0]
    clock.now += 59.9
    assert budget.held_s("10.0.0.9") == 1.0
    clock.now += 0.1
    assert budget.held_s("10.0.0.9") == 0
    assert budget.addresses == 1


def test_a_flood_of_addresses_shares_one_window_and_is_held_sooner():
    budget = AddressBudget(free=2, delay_s=1.0, max_addresses=100, clock=HandClock())
    answers = [budget.held_s(f"10.1.{n // 256}.{n % 256}") for n in range(10_000)]
    assert budget.addresses == 101
    assert answers[:100] == [0] * 100  # each of the first 100 addresses once
    assert answers[100:102] == [0, 0] and set(answers[102:]) == {1.0}


def test_a_delay_of_zero_never_holds():
    budget = AddressBudget(free=1, delay_s=0, clock=HandClock())
    assert {budget.held_s("10.0.0.9") for _ in range(50)} == {0}
    assert budget.addresses == 0
