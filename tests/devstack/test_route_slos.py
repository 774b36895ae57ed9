"""The route SLOs a run is judged against come from the store's ownership manifest."""

import json

from devstack.loadrun import request_route, route_slos_write
from loadtests.results import results_read
from toolkit.manifest import ownership_manifest


def test_request_names_resolve_to_the_routes_they_stand_for():
    assert request_route("[browse] /") == "pages:home"
    assert request_route("[browse] /c/[slug]/?page=deep") == "pages:category"
    assert request_route("[flash] /p/[hot]/") == "pages:product"
    assert request_route("[search] /search/?q=") == "pages:search"
    assert request_route("[buy] /api/v1/carts/[token]/lines/") == "api:cart-lines"
    assert request_route("[backoffice] /backoffice/v1/prices/[sku]") == "backoffice:price-set"
    assert request_route("[other] /no/such/page") == "unmatched"


def test_the_runner_writes_each_request_names_route_slo_for_the_gates(tmp_path):
    # given a run's event log, as the recorder writes it
    names = ["[browse] /p/[slug]/", "[buy] /api/v1/orders/", "[bot] /api/v1/carts/"]
    rows = [f"1.0,{name[1:].split(']')[0]},{name},5,ok" for name in names]
    (tmp_path / "events.csv").write_text("t,journey,name,ms,outcome\n" + "\n".join(rows) + "\n")

    # when the runner writes the SLO table
    route_slos_write(results_dir=tmp_path)

    # then it holds the manifest's SLO of each name's route, and the results read it back
    manifest = ownership_manifest()
    table = json.loads((tmp_path / "slos.json").read_text())["requests"]
    assert table["[buy] /api/v1/orders/"] == {
        "route": "api:order-list",
        "slo_ms": manifest.route("api:order-list").slo_p95_ms,
    }
    assert results_read(tmp_path, scenario="smoke").slos == {
        name: float(manifest.route(request_route(name)).slo_p95_ms) for name in names
    }
