import json
import logging
from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from kelery.common.logging import setup_logging
from kelery.common.settings import (
    KafkaSettings,
    KeleryBaseSettings,
    LoggingSettings,
    load_settings,
)


class _TokenSettings(KeleryBaseSettings):
    token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")


@pytest.fixture(autouse=True)
def _restore_disabled_loggers() -> object:
    """dictConfig disables existing loggers; later tests must not inherit that.

    (The root logger's handlers are restored for every test by the root conftest.)
    """
    disabled = {
        name: logger.disabled
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.disabled = disabled.get(name, False)


def test_secrets_never_reach_the_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "sasl-pa55word")
    monkeypatch.setenv("DISCORD_TOKEN", "MTIzNDU2.discord-token-value")
    discord = load_settings(_TokenSettings)
    kafka = load_settings(KafkaSettings)
    setup_logging(LoggingSettings(level="DEBUG"))
    log = logging.getLogger("kelery.test")
    log.info("settings: %s %r", kafka, discord)
    log.info("dump: %s", kafka.model_dump())
    log.error("connect failed with password %s", kafka.sasl_password.get_secret_value())  # type: ignore[union-attr]
    try:
        raise RuntimeError("auth error token=" + discord.token.get_secret_value())  # type: ignore[union-attr]
    except RuntimeError:
        log.exception("bot failed")
    err = capsys.readouterr().err
    assert "connect failed" in err
    assert "bot failed" in err
    assert "sasl-pa55word" not in err
    assert "discord-token-value" not in err


def test_json_lines_format(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    setup_logging(LoggingSettings(format="json"))
    logging.getLogger("kelery.json").warning("hello %s", "world", extra={"topic": "t1"})
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "hello world"
    assert record["level"] == "WARNING"
    assert record["topic"] == "t1"


def test_logging_config_json_is_used_when_present(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    config = {
        "version": 1,
        "formatters": {"plain": {"format": "CFG %(message)s"}},
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": str(out), "formatter": "plain"}
        },
        "root": {"handlers": ["file"], "level": "INFO"},
    }
    path = tmp_path / "logging_config.json"
    path.write_text(json.dumps(config))
    setup_logging(LoggingSettings(config=path))
    logging.getLogger("kelery.cfg").info("from the config file")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "CFG from the config file" in out.read_text()


def test_a_kafka_block_used_alone_and_raw_extra_secrets_are_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    kafka = KafkaSettings(
        sasl_password=SecretStr("alone-pa55word"),
        extra={"sasl.oauthbearer.client.secret": "extra-s3cret-value"},
    )
    setup_logging(LoggingSettings(format="json"))
    log = logging.getLogger("kelery.alone")
    log.warning("password %s", "alone-pa55word", extra={"config": "extra-s3cret-value"})
    assert kafka.sasl_password is not None
    err = capsys.readouterr().err
    assert "alone-pa55word" not in err
    assert "extra-s3cret-value" not in err
    assert json.loads(err.strip().splitlines()[-1])["config"] == "**********"


def test_handlers_a_config_file_puts_on_named_loggers_are_masked(tmp_path: Path) -> None:
    from kelery.common.redaction import register_secret

    register_secret("named-logger-secret")
    out = tmp_path / "named.log"
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(out)}},
        "loggers": {"kelery.named": {"handlers": ["file"], "level": "INFO", "propagate": False}},
    }
    path = tmp_path / "logging_config.json"
    path.write_text(json.dumps(config))
    setup_logging(LoggingSettings(config=path))
    named = logging.getLogger("kelery.named")
    named.info("token named-logger-secret")
    for handler in named.handlers:
        handler.flush()
    text = out.read_text()
    assert "token" in text
    assert "named-logger-secret" not in text
    for handler in list(named.handlers):
        handler.close()
        named.removeHandler(handler)
