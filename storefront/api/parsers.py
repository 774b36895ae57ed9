"""The API's JSON parser: DRF's, with the nesting bounded before the document is parsed."""

import io
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from toolkit.query import MAX_JSON_DEPTH, JsonTooDeep, json_depth_check


class JsonTooDeepError(ParseError):
    default_code = "json_too_deep"
    default_detail = f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels."


class BoundedJSONParser(JSONParser):
    """Refuse a body nested deeper than MAX_JSON_DEPTH (400 `json_too_deep`).

    The body is already in memory and within DATA_UPLOAD_MAX_MEMORY_SIZE (DRF reads
    `request.body`, which Django caps), so reading it again costs nothing.
    """

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = stream.read()
        try:
            json_depth_check(raw)
        except JsonTooDeep as error:
            raise JsonTooDeepError(f"The JSON body {error}.") from None
        return super().parse(io.BytesIO(raw), media_type, parser_context)
