"""The embedded broker: a message file is never visible to a consumer before it is whole."""

import os
import uuid

import pytest
from kombu import Connection
from kombu.transport import filesystem
from kombu.utils import json

from toolkit import filebroker


def connection(folder) -> Connection:
    return Connection(transport=filebroker.Transport, transport_options=folders(folder))


def folders(root) -> dict[str, str]:
    """The queue's folder, and the control folder (kombu's default is ./control)."""
    for name in ("queue", "control"):
        (root / name).mkdir(exist_ok=True)
    return {
        "data_folder_in": str(root / "queue"),
        "data_folder_out": str(root / "queue"),
        "control_folder": str(root / "control"),
    }


def queue_name() -> str:
    # Kombu keeps declared bindings in class-level state: a name per test, so each test
    # binds its queue in its own control folder.
    return f"orders-{uuid.uuid4().hex}"


def test_a_message_goes_through_whole(tmp_path):
    with connection(tmp_path) as conn, conn.SimpleQueue(queue_name()) as queue:
        queue.put({"order": "PS-1", "lines": list(range(1000))})

        message = queue.get(timeout=1)

    assert message.payload == {"order": "PS-1", "lines": list(range(1000))}
    message.ack()


@pytest.mark.parametrize(
    ("transport", "visible"),
    [
        pytest.param(filebroker, False, id="ours"),
        # Kombu's own shows the empty file (celery/kombu#1551): when it stops doing so,
        # toolkit/filebroker.py can go.
        pytest.param(filesystem, True, id="kombu's"),
    ],
)
def test_no_consumer_sees_a_message_file_before_it_is_whole(
    tmp_path, monkeypatch, transport, visible
):
    seen_while_writing = []
    name = queue_name()

    def dumps(payload):
        # Called between creating the file and writing it: what would a consumer take now?
        seen_while_writing.extend(
            file
            for file in os.listdir(tmp_path / "queue")
            if file.partition(".")[2] == f"{name}.msg"
        )
        return json.dumps(payload)

    monkeypatch.setattr(transport, "dumps", dumps)
    options = folders(tmp_path)
    with (
        Connection(transport=transport.Transport, transport_options=options) as conn,
        conn.SimpleQueue(name) as queue,
    ):
        queue.put({"order": "PS-2"})

        assert bool(seen_while_writing) is visible
        assert queue.get(timeout=1).payload == {"order": "PS-2"}
