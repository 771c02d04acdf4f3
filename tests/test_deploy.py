"""Deployment files: they parse, and their probes, thresholds and metric names match the
operations runbook and the code.

The runbook's values are pinned below. Where the runbook file exists (RUNBOOK), a
test also reads it and fails if it no longer states the pinned values.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import promql_parser
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from prometheus_client.metrics import MetricWrapperBase

from engine import metrics
from engine.settings import _SECRET_NAMES, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = ROOT.parent / "shared" / "RUNBOOK.md"
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"

PROBES = {
    "livenessProbe": {"httpGet": {"path": "/live", "port": 8000}, "initialDelaySeconds": 10,
                      "periodSeconds": 5, "failureThreshold": 3},
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8000}, "initialDelaySeconds": 5,
                       "periodSeconds": 5, "failureThreshold": 3},
}
# Monitoring thresholds as (warning, critical), in the units the rules compare:
# seconds, a share of requests, decisions per minute, circuits, a share of the pool.
THRESHOLDS = {
    "API latency p95": (0.5, 2.0),
    "Error rate": (0.01, 0.05),
    "Decision generation rate": (50.0, 10.0),
    "Circuit breaker open": (1.0, 2.0),
    "Database connections": (0.8, 0.95),
}
RUNBOOK_VARIABLES = {"DATABASE_URL", "REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                     "POLYMARKET_API_KEY", "ENVIRONMENT", "LOG_LEVEL"}
DASHBOARDS = {"RISKCAST Overview", "API Performance", "Decision Pipeline", "External Services"}


def _k8s_documents() -> dict[str, dict]:
    documents = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") != "Kustomization":
                documents[f"{document['kind']}/{document['metadata']['name']}"] = document
    return documents


def _deployment(name: str) -> dict:
    return _k8s_documents()[f"Deployment/{name}"]


def _container(name: str) -> dict:
    (container,) = _deployment(name)["spec"]["template"]["spec"]["containers"]
    return container


def _rules() -> dict[str, dict]:
    groups = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def _dashboards() -> dict[str, dict]:
    boards = [json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))]
    return {board["title"]: board for board in boards}


def _panels(board: dict) -> list[dict]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def _exported_series() -> set[str]:
    """Return every series name the metrics in engine.metrics expose."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",), "summary": ("", "_sum", "_count")}
    names = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def _selectors(node) -> list[str]:
    """Return the metric names a PromQL expression selects."""
    if node is None:
        return []
    if type(node).__name__ == "VectorSelector":
        return [node.name]
    found = []
    for attribute in ("lhs", "rhs", "expr", "param", "vector_selector"):
        found += _selectors(getattr(node, attribute, None))
    for argument in getattr(node, "args", None) or []:
        found += _selectors(argument)
    return found


def _threshold(rule: dict) -> tuple[str, float]:
    expression = promql_parser.parse(rule["expr"])
    assert type(expression).__name__ == "BinaryExpr", rule["alert"]
    return str(expression.op), expression.rhs.val


# Runbook parsing: only used when the runbook is present.

def _runbook_text() -> str | None:
    return RUNBOOK.read_text() if RUNBOOK.exists() else None


def _runbook_probes(text: str) -> dict:
    block = re.search(r"### Kubernetes Probes\s+```yaml\n(.*?)```", text, re.S).group(1)
    return yaml.safe_load(block)


def _runbook_thresholds(text: str) -> dict[str, tuple[float, float]]:
    section = text.split("### Key Metrics", 1)[1].split("###", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in THRESHOLDS:
            rows[cells[0]] = (_runbook_value(cells[1]), _runbook_value(cells[2]))
    return rows


def _runbook_value(cell: str) -> float:
    number = float(re.search(r"[\d.]+", cell).group())
    if cell.endswith("ms"):
        return number / 1000
    if "%" in cell:
        return number / 100
    return number


def _runbook_variables(text: str) -> set[str]:
    section = text.split("### Environment Variables", 1)[1].split("###", 1)[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, re.M))


def test_pinned_values_match_runbook():
    text = _runbook_text()
    if text is None:
        # Without the runbook the pinned values stand for it; check they are coherent.
        assert PROBES["livenessProbe"]["httpGet"]["port"] == 8000
        assert all(len(pair) == 2 for pair in THRESHOLDS.values())
        return

    assert _runbook_probes(text) == PROBES
    assert _runbook_thresholds(text) == THRESHOLDS
    assert _runbook_variables(text) == RUNBOOK_VARIABLES
    for name in DASHBOARDS:
        assert f"**{name}**" in text


def test_k8s_manifests_validate():
    documents = _k8s_documents()
    version = kubernetes_validate.latest_version()

    for document in documents.values():
        kubernetes_validate.validate(document, version, strict=True)
    assert {"Deployment/riskcast", "Deployment/riskcast-worker", "Deployment/riskcast-dashboard",
            "Job/riskcast-migrate", "ConfigMap/riskcast-config",
            "Secret/riskcast-secrets"} <= set(documents)


def test_kustomization_lists_every_manifest():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}

    assert set(listed) == files


def test_kustomize_builds():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the manifests are validated by schema above")

    built = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                           timeout=60)

    assert built.returncode == 0, built.stderr
    images = set(re.findall(r"image: (\S+)", built.stdout))
    assert images == {"riskcast:v1.0.0"}


def test_api_probes_match_runbook():
    container = _container("riskcast")

    assert container["livenessProbe"] == PROBES["livenessProbe"]
    assert container["readinessProbe"] == PROBES["readinessProbe"]
    assert {"containerPort": 8000, "name": "http"} in container["ports"]


def test_worker_and_dashboard_probes_use_runbook_timings():
    config = _k8s_documents()["ConfigMap/riskcast-config"]["data"]
    expected_ports = {"riskcast-worker": int(config["WORKER_HEALTH_PORT"]),
                      "riskcast-dashboard": 8501}
    expected_paths = {"riskcast-worker": ("/live", "/ready"),
                      "riskcast-dashboard": ("/_stcore/health", "/_stcore/health")}

    for name, port in expected_ports.items():
        container = _container(name)
        for probe, path in zip(("livenessProbe", "readinessProbe"), expected_paths[name]):
            timings = {k: v for k, v in container[probe].items() if k != "httpGet"}
            assert timings == {k: v for k, v in PROBES[probe].items() if k != "httpGet"}
            assert container[probe]["httpGet"] == {"path": path, "port": port}


def test_runbook_commands_find_resources():
    documents = _k8s_documents()

    # kubectl set image deployment/riskcast riskcast=riskcast:v1.2.3
    assert _container("riskcast")["name"] == "riskcast"
    # kubectl logs -l app=riskcast --tail=100
    for name, document in documents.items():
        if document["kind"] in ("Deployment", "Job"):
            assert document["spec"]["template"]["metadata"]["labels"]["app"] == "riskcast", name


def test_workloads_are_hardened():
    for name, document in _k8s_documents().items():
        if document["kind"] not in ("Deployment", "Job"):
            continue
        pod = document["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            assert set(container["resources"]) == {"requests", "limits"}, name
            assert {"cpu", "memory"} == set(container["resources"]["limits"]), name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            sources = [next(iter(source.values()))["name"] for source in container["envFrom"]]
            assert sources == ["riskcast-config", "riskcast-secrets"], name
        if document["kind"] == "Deployment":
            strategy = document["spec"]["strategy"]
            assert strategy["type"] == "RollingUpdate", name
            assert strategy["rollingUpdate"]["maxUnavailable"] == 0, name


def test_worker_stops_gracefully():
    pod = _deployment("riskcast-worker")["spec"]["template"]["spec"]

    assert pod["terminationGracePeriodSeconds"] >= 60
    assert pod["containers"][0]["command"] == ["python", "-m", "scheduler"]


def test_migration_job_runs_alembic():
    job = _k8s_documents()["Job/riskcast-migrate"]

    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == \
        ["alembic", "upgrade", "head"]


def test_configmap_and_secret_hold_valid_settings():
    documents = _k8s_documents()
    config = documents["ConfigMap/riskcast-config"]["data"]
    secret = documents["Secret/riskcast-secrets"]["stringData"]

    assert set(config) | set(secret) <= set(Settings.model_fields)
    assert RUNBOOK_VARIABLES <= set(config) | set(secret)
    assert set(secret) <= set(_SECRET_NAMES)
    assert not set(config) & set(_SECRET_NAMES)
    settings = load_settings({**config, **secret})
    assert (settings.POOL_SIZE, settings.MAX_OVERFLOW, settings.POOL_TIMEOUT,
            settings.POOL_RECYCLE) == (20, 10, 30, 1800)
    assert settings.ENVIRONMENT == "production"


def test_compose_services():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    assert {"postgres", "redis", "migrate", "worker", "api", "dashboard"} <= set(services)
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    for name in ("worker", "api", "dashboard"):
        service = services[name]
        assert service["image"] == "riskcast:latest"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["HEALTHCHECK_URL"].startswith("http://127.0.0.1:")
        settings_env = {k: v for k, v in service["environment"].items()
                        if k != "HEALTHCHECK_URL"}
        assert set(settings_env) <= set(Settings.model_fields), name
        load_settings(settings_env)
    assert services["worker"]["environment"]["HEALTHCHECK_URL"].endswith(":8001/live")
    assert services["api"]["ports"] == ["8000:8000"]
    for name in ("postgres", "redis"):
        assert "healthcheck" in services[name]


def test_compose_settings_rejected_when_invalid():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = dict(compose["services"]["worker"]["environment"], LOG_LEVEL="LOUD")
    environment.pop("HEALTHCHECK_URL")

    with pytest.raises(SettingsError, match="LOG_LEVEL='LOUD'"):
        load_settings(environment)


def test_dockerfile_is_multi_stage_and_non_root():
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    instructions = [(i["instruction"], i["value"]) for i in parser.structure]
    stages = [value for instruction, value in instructions if instruction == "FROM"]
    users = [value for instruction, value in instructions if instruction == "USER"]

    assert len(stages) >= 2
    assert any(value.startswith("--from=build") for instruction, value in instructions
               if instruction == "COPY")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(instruction == "HEALTHCHECK" and "HEALTHCHECK_URL" in value
               for instruction, value in instructions)
    assert json.loads(parser.cmd) == ["python", "-m", "api"]


def test_alert_rules_match_thresholds():
    rules = _rules()
    pairs = {
        "API latency p95": ("RiskcastApiLatencyHigh", "RiskcastApiLatencyCritical", ">"),
        "Error rate": ("RiskcastApiErrorRateHigh", "RiskcastApiErrorRateCritical", ">"),
        "Decision generation rate": ("RiskcastDecisionRateLow", "RiskcastDecisionRateCritical",
                                     "<"),
        "Database connections": ("RiskcastDatabasePoolHigh", "RiskcastDatabasePoolCritical",
                                 ">"),
    }

    for metric, (warning, critical, op) in pairs.items():
        assert _threshold(rules[warning]) == (op, THRESHOLDS[metric][0]), warning
        assert _threshold(rules[critical]) == (op, THRESHOLDS[metric][1]), critical
        assert rules[warning]["labels"]["severity"] == "warning"
        assert rules[critical]["labels"]["severity"] == "critical"
    # One open circuit is a warning (one alert per open circuit); more than two is critical.
    assert _threshold(rules["RiskcastCircuitOpen"]) == ("==", 2.0)
    assert "riskcast_circuit_state" in rules["RiskcastCircuitOpen"]["expr"]
    assert _threshold(rules["RiskcastCircuitsOpenCritical"]) == \
        (">", THRESHOLDS["Circuit breaker open"][1])


def test_alert_rules_use_runbook_queries():
    rules = _rules()

    latency = rules["RiskcastApiLatencyHigh"]["expr"]
    assert latency.startswith("histogram_quantile(0.95,")
    assert "rate(http_request_duration_seconds_bucket[5m])" in latency
    assert rules["RiskcastApiErrorRateHigh"]["expr"].startswith(
        'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))')
    assert "rate(decisions_generated_total[5m])" in rules["RiskcastDecisionRateLow"]["expr"]
    assert "riskcast_db_pool_checked_out / riskcast_db_pool_capacity" in \
        rules["RiskcastDatabasePoolHigh"]["expr"]


def test_rule_and_dashboard_metrics_exist_in_code():
    exported = _exported_series()
    expressions = [rule["expr"] for rule in _rules().values()]
    for board in _dashboards().values():
        expressions += [target["expr"] for panel in _panels(board) for target in panel["targets"]]

    used = {name for expression in expressions
            for name in _selectors(promql_parser.parse(expression))}

    assert len(expressions) > 40
    assert used - exported == set()
    assert {"http_request_duration_seconds_bucket", "http_requests_total",
            "decisions_generated_total", "riskcast_circuit_state", "riskcast_circuits_open",
            "riskcast_db_pool_checked_out", "riskcast_db_pool_capacity"} <= used


def test_grafana_dashboards():
    boards = _dashboards()

    assert set(boards) == DASHBOARDS
    assert len({board["uid"] for board in boards.values()}) == 4
    for title, board in boards.items():
        panels = _panels(board)
        assert len(panels) >= 5, title
        for panel in panels:
            position = panel["gridPos"]
            assert position["x"] + position["w"] <= 24, (title, panel["title"])
            assert panel["targets"], (title, panel["title"])
            assert panel["datasource"]["uid"] == "${datasource}"


def test_overview_traffic_lights_use_thresholds():
    panels = {p["title"]: p for p in _panels(_dashboards()["RISKCAST Overview"])}

    def steps(title: str) -> list:
        return [s["value"] for s in panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    assert steps("API latency p95") == [None, *THRESHOLDS["API latency p95"]]
    assert steps("Error rate") == [None, *THRESHOLDS["Error rate"]]
    decisions = THRESHOLDS["Decision generation rate"]
    assert steps("Decisions per minute") == [None, *reversed(decisions)]
    assert steps("Database pool used") == [None, *THRESHOLDS["Database connections"]]
    warning, critical = THRESHOLDS["Circuit breaker open"]
    assert steps("Circuits open") == [None, warning, critical + 1]


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus); "
                    "the rules are parsed and checked above")
    return promtool


def test_promtool_check_rules():
    result = subprocess.run([_promtool(), "check", "rules", "rules.yml"], cwd=PROMETHEUS,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_promtool_rule_unit_tests():
    result = subprocess.run([_promtool(), "test", "rules", "rules.test.yml"], cwd=PROMETHEUS,
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_compose_config():
    result = subprocess.run([_promtool(), "check", "config", "prometheus.yml"], cwd=PROMETHEUS,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_kubernetes_config_parses():
    config = yaml.safe_load((PROMETHEUS / "prometheus-kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    annotations = _deployment("riskcast")["spec"]["template"]["metadata"]["annotations"]
    worker = _deployment("riskcast-worker")
    worker_annotations = worker["spec"]["template"]["metadata"]["annotations"]

    assert config["rule_files"] == ["rules.yml"]
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    assert annotations["prometheus.io/port"] == "8000"
    assert worker_annotations["prometheus.io/port"] == "8001"


def test_alert_pairs_share_signal_label():
    rules = _rules()
    by_signal: dict[str, set[str]] = {}
    for rule in rules.values():
        by_signal.setdefault(rule["labels"]["signal"], set()).add(rule["labels"]["severity"])

    for signal in ("api_latency", "api_errors", "decision_rate", "circuits", "db_pool"):
        assert by_signal[signal] == {"warning", "critical"}, signal


def test_alert_runbook_links_resolve():
    text = (ROOT / "docs" / "operations.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", text, re.M)}

    for name, rule in _rules().items():
        page, anchor = rule["annotations"]["runbook"].split("#")
        assert page == "docs/operations.md", name
        assert anchor in anchors, name
