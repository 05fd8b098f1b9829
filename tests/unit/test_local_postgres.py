"""What the PostgreSQL launcher decides before anything runs: which binaries, and the settings
it hands to the shell."""

import subprocess

import pytest

from localpostgres import Databases, LocalPostgresError
from localpostgres.roles import provisioning_sql
from localpostgres.system import find_binaries


def test_missing_binaries_say_what_to_install(tmp_path):
    with pytest.raises(LocalPostgresError, match="apt-get install postgresql"):
        find_binaries(override="", search_path=str(tmp_path), debian_root=tmp_path)


def test_the_exports_survive_eval_in_the_shell_with_the_placeholder_intact():
    databases = Databases("postgresql://{service}@127.0.0.1:5433/{service}",
                          "/tmp/a dir/secrets/{service}.password")
    # As `eval $(make -s postgres)` does it: unquoted, so the output is split into words first.
    shell = ("eval $(printf '%s\\n' \"$LINE\") && printf '%s\\n' \"$SAGA_DATABASE_URL\" "
             "\"$SAGA_DATABASE_PASSWORD_FILE\" && bash -c 'echo \"$SAGA_DATABASE_URL\"'")
    printed = subprocess.run(["bash", "-c", shell], capture_output=True, text=True,
                             env={"LINE": databases.exports(), "PATH": "/usr/bin:/bin"}).stdout
    assert printed.splitlines() == [databases.url, databases.password_file, databases.url]
    assert databases.url_for("order_service") == "postgresql://order_service@127.0.0.1:5433/order_service"


def test_a_name_that_is_not_plain_never_reaches_the_sql():
    with pytest.raises(ValueError, match="not a plain PostgreSQL name"):
        provisioning_sql({}, {'x"; DROP DATABASE postgres; --': "order_service"})
