"""`make services`: where each instance runs, and several instances refused without PostgreSQL
(before anything starts); free ports handed out once."""

from pathlib import Path

from devtools import processes
from devtools.services import Services, main


def test_several_instances_without_a_database_url_are_refused_in_one_line(tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.delenv("SAGA_DATABASE_URL", raising=False)
    assert main(["start", "--instances", "2", "--state-dir", str(tmp_path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "PostgreSQL" in line and "eval $(make -s postgres)" in line
    assert list(tmp_path.iterdir()) == []  # nothing started


def test_each_instance_has_its_own_name_and_port_the_first_on_the_usual_ports():
    one, two = Services(Path("s"), 8000), Services(Path("s"), 8000, instances=2)
    assert [(i.name, i.port) for i in one.planned()][:2] == [("order_service", 8000),
                                                             ("inventory_service", 8001)]
    assert [(i.name, i.port) for i in two.planned()] == [
        ("order_service-1", 8000), ("inventory_service-1", 8001), ("fraud_service-1", 8006),
        ("payment_service-1", 8002), ("shipping_service-1", 8003),
        ("notification_service-1", 8004),
        ("order_service-2", 8010), ("inventory_service-2", 8011), ("fraud_service-2", 8016),
        ("payment_service-2", 8012), ("shipping_service-2", 8013),
        ("notification_service-2", 8014)]
    assert two.instance("payment_service-2").service == "payment_service"


def test_status_of_nothing_running_lists_every_service_as_stopped(tmp_path, capsys):
    assert main(["status", "--state-dir", str(tmp_path)]) == 1
    assert [line.split() for line in capsys.readouterr().out.splitlines()] == [
        [name, "stopped"] for name in ("order_service", "inventory_service", "fraud_service",
                                       "payment_service", "shipping_service",
                                       "notification_service")]


def test_free_ports_are_never_handed_out_twice_even_when_the_kernel_offers_one_again(monkeypatch):
    offered = iter([40001, 40001, 40002])

    class Probe:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def bind(self, address):
            self.port = next(offered)

        def getsockname(self):
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(processes, "_HANDED_OUT", set())
    monkeypatch.setattr(processes.socket, "socket", Probe)
    assert [processes.free_port(), processes.free_port()] == [40001, 40002]
