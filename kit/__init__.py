"""Customer lifecycle analytics kit: the logic behind the monthly report notebooks."""

from kit.core.config import ConfigError, KitConfig, load_config

__version__ = "0.1.0"
__all__ = ["ConfigError", "KitConfig", "load_config", "__version__"]
