"""The deployment files hold together: compose services, health checks, no baked secrets.

(The machine that runs the suite has no container runtime to start them; the two-node
scale-out itself is tested with real processes in tests/test_pg_nodes.py.)
"""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT


def test_compose_runs_two_nodes_on_one_postgres_with_health_checks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "tracker-a", "tracker-b"} <= services.keys()
    assert "healthcheck" in services["postgres"] and "pgdata" in compose["volumes"]
    for name in ("tracker-a", "tracker-b"):
        node = services[name]
        assert node["build"] == "."
        assert node["environment"]["TRACKER_DB"].startswith("postgresql://")
        assert node["environment"]["TRACKER_TOKEN"].startswith("${TRACKER_TOKEN"), "tokens come from the environment"
        assert node["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert node["command"][:2] == ["tracker", "serve"]
    assert services["tracker-a"]["ports"] != services["tracker-b"]["ports"]
    # each node keeps its server image in a volume of its own: two writers of one file would clash
    images = [(services[n]["environment"]["TRACKER_IMAGE"], services[n]["volumes"][0])
              for n in ("tracker-a", "tracker-b")]
    assert images[0][1] != images[1][1] and all(path.startswith(vol.split(":")[1]) for path, vol in images)


def test_the_image_serves_with_a_health_check_and_no_secret():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^HEALTHCHECK .*\n?.*?/healthz", dockerfile, re.M | re.S)
    assert re.search(r'^CMD \["tracker", "serve"', dockerfile, re.M)
    assert "TRACKER_TOKEN=" not in dockerfile and not re.search(r"--token\b", dockerfile)
