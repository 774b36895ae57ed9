"""Settings: production hardened and unwilling to start without its secrets; the services
profile's cache aliases each failing the way their users need."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from devstack.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
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
        DJANGO_SETTINGS_MODULE="storefront.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="shop.example",
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_production_settings_refuse_to_start_without_secrets(tmp_path):
    result = manage(
        "check",
        DJANGO_SETTINGS_MODULE="storefront.settings.production",
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_production_settings_leave_the_development_tooling_out(tmp_path):
    result = manage(
        "help",
        "--commands",
        DJANGO_SETTINGS_MODULE="storefront.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="shop.example",
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
        PEAKSTORE_VAR_DIR=str(tmp_path),
    )

    # then sessions read a miss (and fall back to the database), while the owned caches
    # raise, so the toolkit counts the failure per namespace and serves from the database
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-3:-1] == ["missed", "raised"]
