from django.core.management import call_command

from storefront.api.errors import ERROR_CODES

CONTRACT_OPERATIONS = {
    ("/api/v1/products/", "get"),
    ("/api/v1/products/{slug}/", "get"),
    ("/api/v1/categories/", "get"),
    ("/api/v1/search/", "get"),
    ("/api/v1/search/suggest/", "get"),
    ("/api/v1/carts/", "post"),
    ("/api/v1/carts/{token}/", "get"),
    ("/api/v1/carts/{token}/lines/", "post"),
    ("/api/v1/carts/{token}/lines/{line_id}/", "patch"),
    ("/api/v1/carts/{token}/lines/{line_id}/", "delete"),
    ("/api/v1/carts/{token}/coupon/", "post"),
    ("/api/v1/orders/", "post"),
    ("/api/v1/orders/{number}/", "get"),
}


def test_schema_documents_every_contract_operation(api, db):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == CONTRACT_OPERATIONS


def test_schema_documents_the_error_shape_and_codes(api, db):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    for code in ERROR_CODES:
        assert f"`{code}`" in schema["info"]["description"]
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"] == "#/components/schemas/ErrorDetail"
    place_order = schema["paths"]["/api/v1/orders/"]["post"]
    assert {"400", "402", "404", "409", "503"} <= set(place_order["responses"])
    assert "idempotency_key_missing" in place_order["responses"]["400"]["description"]
    headers = [p["name"] for p in place_order["parameters"] if p["in"] == "header"]
    assert headers == ["Idempotency-Key"]


def test_schema_is_valid_without_warnings(db, tmp_path):
    target = tmp_path / "schema.yaml"

    # Raises SystemExit on a validation error or any generator warning.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert target.read_text().startswith("openapi: 3.")


def test_swagger_ui_is_served_without_a_cdn(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/schema/" in page
    assert "cdn.jsdelivr" not in page
