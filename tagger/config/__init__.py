"""Configuration: the shipped schema, the loader, durations and secrets."""

from tagger.config.durations import DurationError, format_duration, parse_duration
from tagger.config.loader import (
    DEFAULT_CONFIG_PATH,
    config_schema,
    default_config_path,
    load_config,
)
from tagger.config.model import (
    DEFAULT_STATE_PATH,
    AccountConfig,
    Config,
    LoggingConfig,
    MetricsConfig,
    MonitorConfig,
    ScheduleConfig,
    WindowConfig,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_STATE_PATH",
    "AccountConfig",
    "Config",
    "DurationError",
    "LoggingConfig",
    "MetricsConfig",
    "MonitorConfig",
    "ScheduleConfig",
    "WindowConfig",
    "config_schema",
    "default_config_path",
    "format_duration",
    "load_config",
    "parse_duration",
]
