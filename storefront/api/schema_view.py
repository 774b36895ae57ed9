"""`/api/schema/`: the OpenAPI document, generated once per process and format.

The schema is a function of the code alone, so only a deploy (new processes) changes
it: each worker renders each format once and answers every later request from memory,
with an ETag for a 304. An owned cache would add a round trip and invalidation for
nothing. To keep it a function of the code, it is generated without the request (as
`manage.py spectacular` does, so the served and the committed document agree), and
`?version=` and `?lang=` are not honoured: one version, English only, and each value
would have kept another copy in memory.
"""

import functools
import threading
from dataclasses import dataclass

from django.http import HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from drf_spectacular.settings import patched_settings, spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request

from storefront.api.schema import SCHEMA_SETTINGS
from toolkit.cache.http import etag_for


@dataclass(frozen=True)
class RenderedSchema:
    content: bytes
    content_type: str
    etag: str
    filename: str


_render_lock = threading.Lock()


@functools.cache
def schema_rendered(media_type: str) -> RenderedSchema:
    """The schema as the renderer of `media_type` (one of the view's) renders it,
    generated and rendered once per process."""
    renderer = next(
        renderer_class()
        for renderer_class in SchemaView.renderer_classes
        if renderer_class.media_type == media_type
    )
    with _render_lock:  # spectacular's patched settings are process-wide
        with patched_settings(SchemaView.custom_settings):
            generator = SchemaView.generator_class(urlconf=SchemaView.urlconf, api_version=None)
            schema = generator.get_schema(request=None, public=True)
        rendered = renderer.render(schema, media_type, {})
    content = rendered.encode() if isinstance(rendered, str) else rendered
    charset = renderer.charset
    return RenderedSchema(
        content=content,
        content_type=f"{media_type}; charset={charset}" if charset else media_type,
        etag=etag_for(content),
        filename=f"{spectacular_settings.TITLE or 'schema'}.{renderer.format}",
    )


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema; YAML or JSON by content negotiation (`?format=json` too)."""

    custom_settings = SCHEMA_SETTINGS

    @extend_schema(exclude=True)  # as SERVE_INCLUDE_SCHEMA = False has the parent's
    def get(self, request: Request, *args: object, **kwargs: object) -> HttpResponseBase:
        # Keyed by the chosen renderer's own type, never by the client's Accept header,
        # which is unbounded: four entries at most.
        rendered = schema_rendered(request.accepted_renderer.media_type)
        response = HttpResponse(rendered.content, content_type=rendered.content_type)
        response["ETag"] = rendered.etag
        response["Content-Disposition"] = f'inline; filename="{rendered.filename}"'
        return get_conditional_response(request, etag=rendered.etag, response=response) or response
