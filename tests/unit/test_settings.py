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
