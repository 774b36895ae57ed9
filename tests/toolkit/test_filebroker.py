"""The embedded broker: a message file is never visible to a consumer before it is whole."""

import os

import pytest
from kombu import Connection
from kombu.transport import filesystem
from kombu.utils import json

from toolkit import filebroker


def connection(folder) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),  # else ./control, in the checkout
    }
    return Connection(transport=filebroker.Transport, transport_options=options)


def test_a_message_goes_through_whole(tmp_path):
    with connection(tmp_path) as conn, conn.SimpleQueue("orders") as queue:
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

    def dumps(payload):
        # Called between creating the file and writing it: what would a consumer take now?
        seen_while_writing.extend(
            name for name in os.listdir(tmp_path) if name.partition(".")[2] == "orders.msg"
        )
        return json.dumps(payload)

    monkeypatch.setattr(transport, "dumps", dumps)
    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
    }
    with (
        Connection(transport=transport.Transport, transport_options=options) as conn,
        conn.SimpleQueue("orders") as queue,
    ):
        queue.put({"order": "PS-2"})

        assert bool(seen_while_writing) is visible
        assert queue.get(timeout=1).payload == {"order": "PS-2"}
