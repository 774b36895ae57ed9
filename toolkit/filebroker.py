"""Kombu's filesystem transport, with message files that appear whole.

The embedded profile's broker is a folder. Kombu's transport creates each message's
file in the queue folder and then writes it, so a worker that lists the folder in
between reads an empty file and dies on the JSON error (celery/kombu#1551, open since
2022; seen here as a worker exiting during a benchmark). This one writes the message
beside the queue under a name no consumer matches, then renames it into place: a rename
within a folder is atomic, so a consumer finds a message whole or not at all.
Importing this module registers its URL scheme, `wholefiles://` (the embedded
settings' broker URL; `storefront.celery` imports it).
"""

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # Exchanges pass keyword arguments (`mandatory`) the abstract base does not declare.
    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # The transport's own naming: consumers take `<stamp>_<uuid>.<queue>.msg` in order.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(message)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


SCHEME = "wholefiles"
TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
