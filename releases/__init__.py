"""Release exposure: flags with steps, cohorts, performance gates and stop conditions.

The request path uses `flag_enabled(request, name)` and `release_variant(request)`
(both read the cached snapshot: no query). See toolkit/README.md, "Releases".
"""
