"""Property-based testing of the served API from its own OpenAPI document (schemathesis).

Every documented operation gets generated requests, valid ones and invalid ones, sent over HTTP with
an admin token to the API under cheroot.  No answer may be a server error, and every answer must
be one the document declares: its status code, content type, headers and body schema.

The operations are driven from a plain test with ``APIOperation.as_strategy`` rather than
``schemathesis.pytest.from_fixture``: schemathesis 4.32.5's lazy-fixture runner sets
``request.node._nodeid``, which pytest 9.2's nodes no longer have.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
MAX_EXAMPLES = 10  # per operation and mode: ~1,300 requests, about 40 s on the 2-core machine


@pytest.mark.timeout(300)
def test_api_has_no_server_errors_and_answers_as_documented(api):
    schema = schemathesis.openapi.from_url(f"{api.url}/api/v1/openapi.json", timeout=10)
    headers = {"Authorization": f"Bearer {api.tokens['admin']}"}
    failures: list[str] = []
    ran: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

            try:
                check()
            except (Exception, BaseExceptionGroup) as error:  # schemathesis' FailureGroup: collect, report all
                failures.append(f"{operation.label} ({mode.value}): {error}")
            ran.append(f"{operation.label} ({mode.value})")
    assert len(ran) >= 2 * 40, ran  # every operation of every kind, both modes
    assert not failures, "\n\n".join(failures)
