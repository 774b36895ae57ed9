"""Settings: production hardened and unwilling to start without its secrets; no secret
key in the code, a generated one kept with the store's data; the services profile
complete or refusing to start, its cache aliases each failing the way their users need."""

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.processes import free_port
from storefront.settings.keyfile import SECRET_KEY_FILE

ROOT = Path(__file__).resolve().parents[2]
# What selects the services profile or configures ops access: each test says its own.
CHOSEN_BY_TEST = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "PEAKSTORE_OPS_TOKEN",
    "PEAKSTORE_OPS_ALLOWED_NETWORKS",
)
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "storefront.settings.production",
    "DJANGO_ALLOWED_HOSTS": "shop.example",
    "PEAKSTORE_OPS_TOKEN": "ops-token",
}
PRINT_SECRET_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key not in CHOSEN_BY_TEST
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_production_settings_keep_the_failure_mode_lab_off_whatever_the_environment_says(
    tmp_path,
):
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.PEAKSTORE_LAB)",
        **PRODUCTION,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        PEAKSTORE_VAR_DIR=str(tmp_path),
        PEAKSTORE_LAB="1",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_production_settings_refuse_to_start_without_secrets(tmp_path):
    result = manage(
        "check",
        DJANGO_SETTINGS_MODULE="storefront.settings.production",
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr
    assert "PEAKSTORE_OPS_TOKEN or PEAKSTORE_OPS_ALLOWED_NETWORKS" in result.stderr


@pytest.mark.parametrize(
    "ops_access",
    [{"PEAKSTORE_OPS_TOKEN": "ops-token"}, {"PEAKSTORE_OPS_ALLOWED_NETWORKS": "10.0.0.0/8"}],
)
def test_production_settings_start_with_either_kind_of_ops_access(tmp_path, ops_access):
    result = manage(
        "check",
        **{**PRODUCTION, "PEAKSTORE_OPS_TOKEN": "", **ops_access},
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr


def test_an_ops_network_that_is_not_one_stops_the_start_naming_it(tmp_path):
    result = manage(
        "check",
        PEAKSTORE_OPS_ALLOWED_NETWORKS="10.0.0.0/8, 10.0.0.0/33",
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "PEAKSTORE_OPS_ALLOWED_NETWORKS: '10.0.0.0/33' is not an IP address" in result.stderr


def test_without_a_key_a_store_generates_one_private_to_its_var_dir(tmp_path):
    first = manage("shell", "--no-imports", "-c", PRINT_SECRET_KEY, PEAKSTORE_VAR_DIR=str(tmp_path))
    again = manage("shell", "--no-imports", "-c", PRINT_SECRET_KEY, PEAKSTORE_VAR_DIR=str(tmp_path))
    elsewhere = manage(
        "shell", "--no-imports", "-c", PRINT_SECRET_KEY, PEAKSTORE_VAR_DIR=str(tmp_path / "b")
    )

    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert len(key) >= 50
    assert (tmp_path / SECRET_KEY_FILE).read_text().strip() == key
    assert stat.S_IMODE((tmp_path / SECRET_KEY_FILE).stat().st_mode) == 0o600
    assert again.stdout.strip() == key  # every process of the store shares it
    assert elsewhere.stdout.strip() not in ("", key)  # another store has its own


def test_processes_starting_together_agree_on_one_key(tmp_path):
    # given a store's processes all starting at once with no key yet (a stack's boot)
    code = (
        "import sys; from pathlib import Path; "
        "from storefront.settings.keyfile import secret_key_load_or_create; "
        "print(secret_key_load_or_create(Path(sys.argv[1])))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]

    # when each reads or creates the key
    keys = set()
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        keys.add(out.strip())

    # then all of them hold the one key in the file, and no partial file is left behind
    assert keys == {(tmp_path / SECRET_KEY_FILE).read_text().strip()}
    assert [path.name for path in tmp_path.iterdir()] == [SECRET_KEY_FILE]


def test_a_configured_key_wins_and_nothing_is_written(tmp_path):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        PRINT_SECRET_KEY,
        DJANGO_SECRET_KEY="k" * 60,
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    assert result.stdout.strip() == "k" * 60
    assert not (tmp_path / SECRET_KEY_FILE).exists()


@pytest.mark.parametrize(
    ("mode", "content", "complaint"),
    [
        (0o644, secrets.token_urlsafe(50), "can be read by other users"),
        (0o600, "short", "holds no usable secret key"),
    ],
)
def test_a_key_file_others_can_read_or_that_holds_no_key_stops_the_start(
    tmp_path, mode, content, complaint
):
    key_file = tmp_path / SECRET_KEY_FILE
    key_file.write_text(content)
    key_file.chmod(mode)

    result = manage(
        "shell", "--no-imports", "-c", PRINT_SECRET_KEY, PEAKSTORE_VAR_DIR=str(tmp_path)
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr


@pytest.mark.parametrize(
    ("services", "missing"),
    [
        ({}, "REDIS_URL and CELERY_BROKER_URL"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0"}, "CELERY_BROKER_URL"),
        ({"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"}, "REDIS_URL"),
    ],
)
def test_the_services_profile_refuses_to_start_without_a_service_it_needs(
    tmp_path, services, missing
):
    # given DATABASE_URL (the services profile) and not all of its other services
    result = manage(
        "check",
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        PEAKSTORE_VAR_DIR=str(tmp_path),
        **services,
    )

    # then it refuses, naming what is missing, instead of a per-process cache or broker
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"also needs {missing};" in result.stderr


def test_the_embedded_profile_needs_nothing(tmp_path):
    result = manage("check", PEAKSTORE_VAR_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr


def test_production_settings_leave_the_development_tooling_out(tmp_path):
    result = manage(
        "help",
        "--commands",
        **PRODUCTION,
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    commands = result.stdout.split()
    assert result.returncode == 0, result.stderr
    assert "migrate" in commands
    assert not {"run_stack", "demo", "loadtest", "seed_store"} & set(commands)


def test_with_redis_down_sessions_miss_quietly_while_owned_caches_raise(tmp_path):
    # given the services profile with nothing listening where Redis should be
    # (the database is never opened: only the caches are asked)
    probe = (
        "from django.conf import settings\n"
        "from django.core.cache import caches\n"
        "print(caches[settings.SESSION_CACHE_ALIAS].get('key', 'missed'))\n"
        "try:\n"
        "    caches[settings.TOOLKIT_CACHE_ALIAS].get('key')\n"
        "except Exception:\n"
        "    print('raised')\n"
    )

    # when the sessions' cache and the owned caches' alias are each asked for a key
    result = manage(
        "shell",
        "-c",
        probe,
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//",
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    # then sessions read a miss (and fall back to the database), while the owned caches
    # raise, so the toolkit counts the failure per namespace and serves from the database
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-3:-1] == ["missed", "raised"]
