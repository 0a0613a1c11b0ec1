"""schemathesis generates requests for every operation in /schema/openapi.json: no 5xx, ever.

Runs against a real server process with demo data, authenticated as an operator through
a Bearer token (so guarded operations are exercised past the 401), and once anonymously.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.servers import ServerProcess, prepare_database
from tests.web.test_cli import chonai

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    env = {"VAR_DIR": str(tmp), "SECRET_KEY": "f" * 48, "LOG_LEVEL": "WARNING"}
    prepare_database(env)
    made = chonai(env, "token", "create", "--email", "operator@example.jp")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    server = ServerProcess(env, tmp / "server.log").start()
    yield server, token
    server.stop()
    log = (tmp / "server.log").read_text()
    assert "unhandled error" not in log, log[-3000:]


def _operations(server):
    schema = schemathesis.openapi.from_url(server.url + "/schema/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation, examples: int, check) -> None:
    # Driving hypothesis directly: schemathesis' pytest plugin does not support pytest 9 yet.
    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case):
        check(case)

    run()


# 30 examples for each of ~60 operations: past the default 120 s on a loaded 2-core machine.
@pytest.mark.timeout(900)
def test_no_server_errors_as_operator(api_server):
    server, token = api_server
    operations = _operations(server)
    assert len(operations) >= 5

    def check(case):
        response = case.call(headers={"authorization": f"Bearer {token}"})
        where = f"{case.method} {case.formatted_path}"
        assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
        content_type = "".join(response.headers.get("content-type") or [])
        if response.status_code >= 400 and content_type.startswith("application/json"):
            assert "error" in response.json(), response.text[:300]

    for operation in operations:
        _fuzz(operation, 30, check)


def test_anonymous_gets_typed_401s(api_server):
    server, _ = api_server

    def check(case):
        response = case.call()
        assert response.status_code < 500
        if case.formatted_path.startswith("/api/"):
            where = f"{case.method} {case.formatted_path}: {response.status_code}"
            if response.status_code == 403:  # a cookie-less browser POST: refused by CSRF before auth
                assert case.method != "GET" and response.json()["error"]["code"] == "csrf_failed", where
            else:
                assert response.status_code in (401, 404, 405), where

    for operation in _operations(server):
        _fuzz(operation, 5, check)
