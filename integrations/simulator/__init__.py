"""The upstream simulator: one HTTP server that plays every external dependency.

Each dependency (payment, ERP, PIM, tax, shipping, recommendations, reviews) is a module
with its own routes under `/<name>/`, and gets its own fault profile. Run it
with `python -m integrations.simulator --port N [--seed S]`. It needs no Django: the
store talks to it over HTTP exactly as it would talk to the real services.
"""
