"""``vigil users``: create prints the token once (alone on stdout), list never shows one,
revoke and disable end a token's use; the database is the one VIGIL_DATABASE_URL names."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.demo import demo_admin_token
from monitor.store import AlertStore


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    monkeypatch.setenv("VIGIL_DATABASE_URL", url)
    monkeypatch.delenv("VIGIL_ADMIN_TOKEN", raising=False)
    for name in ("LOGNAME", "USER"):  # getpass.getuser reads LOGNAME first
        monkeypatch.setenv(name, "oper")
    return url


def authenticate(url: str, token: str) -> tuple[str, str, tuple[str, ...]] | None:
    store = AlertStore(url)
    try:
        who = store.authenticate(token)
        return None if who is None else (who.name, who.role, who.queues)
    finally:
        store.close()


def test_create_prints_the_token_once(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["users", "create", "ana", "--role", "analyst", "--queues", "payments,topup"])
    out, err = capsys.readouterr()
    assert code == 0
    token = out.strip()
    assert token.startswith("vgl_") and "\n" not in token
    assert "created analyst 'ana' (queues: payments, topup); token, shown once:" in err
    assert authenticate(db_url, token) == ("ana", "analyst", ("payments", "topup"))

    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert token not in listing
    assert listing.splitlines()[1].split()[:4] == ["ana", "analyst", "payments,topup", "1"]

    store = AlertStore(db_url)
    try:
        (entry,) = store.audit_page(target="user:ana")
    finally:
        store.close()
    assert (entry.actor, entry.role, entry.action) == ("cli:oper", "cli", "user_create")


def test_revoke_token_and_disable(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["users", "create", "vic", "--role", "viewer"])
    first = capsys.readouterr().out.strip()
    assert main(["users", "revoke", "vic"]) == 0
    assert "revoked 1 token(s) of 'vic'" in capsys.readouterr().err
    assert authenticate(db_url, first) is None
    assert main(["users", "token", "vic"]) == 0
    second = capsys.readouterr().out.strip()
    assert authenticate(db_url, second) == ("vic", "viewer", ())
    assert main(["users", "disable", "vic"]) == 0
    assert authenticate(db_url, second) is None
    main(["users", "list"])
    assert "disabled" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["users", "create", "bob", "--role", "analyst"], "an analyst needs queues"),
        (["users", "create", "bob", "--role", "analyst", "--queues", "vip"], "unknown queue"),
        (["users", "revoke", "zed"], "no user 'zed'"),
        (["users", "token", "zed"], "no user 'zed'"),
    ],
)
def test_errors_exit_1_with_a_message(
    db_url: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and message in err


def test_a_taken_name_exits_1(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["users", "create", "root", "--role", "admin"])
    capsys.readouterr()
    assert main(["users", "create", "root", "--role", "viewer"]) == 1
    assert "'root' exists already" in capsys.readouterr().err


def test_a_role_is_required(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["users", "create", "bob"])
    assert exit_.value.code == 2
    assert "--role" in capsys.readouterr().err


def test_the_demo_gets_an_admin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert authenticate(url, demo_admin_token(url)) == ("demo", "admin", ("*",))
