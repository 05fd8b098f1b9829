"""Settings are checked once, at start: a bad value is one clear line and exit status 2, and a
tool never trips over a variable meant for the services."""

import os
import subprocess
import sys

import pytest

from shared.settings import Settings, ToolSettings, load


def _run(module: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAGA_")}
    return subprocess.run([sys.executable, "-m", module, *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_a_service_with_a_bad_setting_says_so_in_one_line_and_exits_2():
    ran = _run("inventory_service", SAGA_SESSION_TIMEOUT_MS="1000", SAGA_LOG_LEVEL="loud")
    assert ran.returncode == 2
    assert sorted(ran.stderr.splitlines()) == [
        "invalid setting SAGA_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        "invalid setting SAGA_SESSION_TIMEOUT_MS: Input should be greater than or equal to 6000"]


def test_sagactl_is_not_stopped_by_a_variable_only_the_services_use():
    ran = _run("sagactl", "docs", "events", "--check", SAGA_SESSION_TIMEOUT_MS="abc")
    assert ran.returncode == 0, ran.stderr


def test_the_log_level_may_be_written_in_lower_case():
    assert Settings(log_level="debug").log_level == "DEBUG"


def test_a_heartbeat_slower_than_a_third_of_the_session_is_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        load(Settings, session_timeout_ms=6000, heartbeat_interval_ms=3000)
    assert exited.value.code == 2
    assert "at most a third of session_timeout_ms" in capsys.readouterr().err


def test_a_topic_prefix_kafka_could_not_name_a_topic_with_is_refused(capsys):
    with pytest.raises(SystemExit):
        load(ToolSettings, topic_prefix="bad/")
    assert "SAGA_TOPIC_PREFIX" in capsys.readouterr().err


def test_three_replicas_want_two_in_sync_and_one_replica_wants_one():
    assert ToolSettings(topic_replication_factor=3).min_insync_replicas == 2
    assert ToolSettings(topic_replication_factor=1).min_insync_replicas == 1
    assert ToolSettings(topic_replication_factor=5,
                        topic_min_insync_replicas=3).min_insync_replicas == 3


def test_more_replicas_in_sync_than_there_are_is_refused(capsys):
    with pytest.raises(SystemExit):
        load(ToolSettings, topic_replication_factor=1, topic_min_insync_replicas=2)
    assert "no write could ever be acknowledged" in capsys.readouterr().err


def test_a_service_is_a_static_member_named_after_itself_unless_told_otherwise():
    assert Settings(service_name="payment_service").consumer_instance_id == "payment_service"
    assert Settings(service_name="payment_service",
                    group_instance_id="payment-a").consumer_instance_id == "payment-a"
    assert Settings(service_name="payment_service",
                    static_membership=False).consumer_instance_id is None


@pytest.mark.parametrize("content", ["", "  \n", "short"])
def test_an_api_token_file_without_a_real_token_stops_the_order_service_in_one_line(
        tmp_path, content):
    token = tmp_path / "api_token"
    token.write_text(content)
    ran = _run("order_service", SAGA_API_TOKEN_FILE=str(token),
               SAGA_DATABASE_PATH=str(tmp_path / "order.db"))
    assert ran.returncode == 2 and len(ran.stderr.splitlines()) == 1, ran.stderr
    assert ran.stderr.startswith("invalid setting SAGA_API_TOKEN_FILE: ")
    assert "an API token needs at least 16 characters" in ran.stderr


def test_in_secure_mode_reads_need_the_token_unless_told_otherwise(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    secure = {"kafka_security_protocol": "SASL_SSL", "kafka_password": "p", "kafka_ca_file": ca}
    assert Settings(**secure).reads_need_token
    assert not Settings(**secure, api_reads_need_token=False).reads_need_token
    assert not Settings().reads_need_token and Settings(api_reads_need_token=True).reads_need_token


def test_a_service_answers_to_loopback_names_and_the_address_it_binds_unless_told():
    assert Settings().allowed_hosts == ["127.0.0.1", "localhost"]
    assert Settings(http_host="10.0.0.5").allowed_hosts == ["127.0.0.1", "localhost", "10.0.0.5"]
    assert Settings(http_host="0.0.0.0").allowed_hosts == ["127.0.0.1", "localhost"]
    assert Settings(http_allowed_hosts="order-service, localhost").allowed_hosts == [
        "order-service", "localhost"]


def test_sagactl_doctor_asks_the_orchestrator_only_when_the_saga_is_orchestrated(monkeypatch):
    monkeypatch.delenv("SAGA_MODE", raising=False)
    assert "orchestrator_service" not in ToolSettings().service_urls
    monkeypatch.setenv("SAGA_MODE", "orchestrated")
    assert ToolSettings().service_urls["orchestrator_service"] == "http://127.0.0.1:8007"
