import pytest

from state import IllegalTransition, Status, check_transition, is_terminal


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("PENDING", "RUNNING"),
        ("PENDING", "CANCELLED"),
        ("RUNNING", "SUCCESS"),
        ("RUNNING", "FAILED"),
        ("RUNNING", "CANCELLED"),
        ("RUNNING", "RUNNING"),
        ("RUNNING", "PENDING"),
    ],
)
def test_legal_moves_pass(old: str, new: str) -> None:
    check_transition(old, new)


@pytest.mark.parametrize("terminal", ["SUCCESS", "FAILED", "CANCELLED"])
@pytest.mark.parametrize("new", list(Status))
def test_nothing_leaves_a_terminal_status(terminal: str, new: str) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(terminal, new)


def test_pending_cannot_jump_to_success() -> None:
    with pytest.raises(IllegalTransition, match="PENDING to SUCCESS"):
        check_transition("PENDING", "SUCCESS")


def test_terminal_statuses() -> None:
    assert {s for s in Status if is_terminal(s)} == {"SUCCESS", "FAILED", "CANCELLED"}
