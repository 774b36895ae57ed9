"""`toolkit.settings_cache.setting`: read once, forgotten when a setting changes."""

from django.conf import settings as django_settings
from django.test import override_settings

from toolkit.settings_cache import setting


def test_a_setting_is_read_once_and_kept(monkeypatch):
    assert setting("DATA_UPLOAD_MAX_MEMORY_SIZE") == django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    reads = []
    original = type(django_settings).__getattribute__

    def counted(self, name):
        reads.append(name)
        return original(self, name)

    monkeypatch.setattr(type(django_settings), "__getattribute__", counted)
    setting("DATA_UPLOAD_MAX_MEMORY_SIZE")
    setting("DATA_UPLOAD_MAX_MEMORY_SIZE")

    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" not in reads


def test_a_changed_setting_is_read_again():
    before = setting("DATA_UPLOAD_MAX_MEMORY_SIZE")

    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=before + 1):
        assert setting("DATA_UPLOAD_MAX_MEMORY_SIZE") == before + 1

    assert setting("DATA_UPLOAD_MAX_MEMORY_SIZE") == before


def test_an_unset_setting_gives_the_default_until_it_is_set():
    assert setting("PEAKSTORE_NOT_A_SETTING", 7) == 7

    with override_settings(PEAKSTORE_NOT_A_SETTING=8):
        assert setting("PEAKSTORE_NOT_A_SETTING", 7) == 8

    assert setting("PEAKSTORE_NOT_A_SETTING", 7) == 7
