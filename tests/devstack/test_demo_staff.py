"""`make demo`'s staff user: /ops/ works out of the box on a laptop, with a fresh
password each time."""

from devstack.management.commands.demo import staff_login
from devstack.prepare import demo_staff_user
from devstack.processes import StackConfig


def test_the_demo_staff_user_can_open_ops_and_gets_a_new_password_each_time(client, db):
    username, first = demo_staff_user()
    username_again, second = demo_staff_user()

    assert username == username_again
    assert first != second
    assert not client.login(username=username, password=first)
    assert client.login(username=username, password=second)
    assert client.get("/ops/").status_code == 200


def test_the_demo_says_how_to_log_in():
    text = staff_login(StackConfig(port=8123), "staff", "s3cret")

    assert "http://127.0.0.1:8123/admin/login/?next=/ops/" in text
    assert "username staff  password s3cret" in text
