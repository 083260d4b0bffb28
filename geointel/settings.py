"""Settings: defaults < ``geointel.toml`` < ``GEOINTEL_*`` environment variables.

Settings are a frozen value passed explicitly to whatever needs them; nothing reads or
mutates a global (a Streamlit server shares module globals between users).

Examples
--------
>>> s = load_settings(env={"GEOINTEL_SEED": "7", "GEOINTEL_AREAS": "E06000033"})
>>> s.seed, s.areas
(7, ('E06000033',))
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geointel.errors import ValidationError

#: The SET area: Southend-on-Sea, Thurrock and Essex county.
SET_AREAS = ("E06000033", "E06000034", "E10000012")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Largest suppression threshold accepted (a typo guard: 1,000 would hide almost everything).
MAX_THRESHOLD = 100
#: Largest upload_max_mb accepted (uploads are read into memory).
MAX_UPLOAD_MB = 1024


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with defaults that work from a clone of the repository.

    Attributes
    ----------
    data_dir
        Where open data are synced and the sample is built.
    mirror
        A local mirror laid out like ``../shared/data``; ``None`` means look for
        ``../shared/data`` beside the project and otherwise download.
    areas
        Local authority codes the analysis covers by default.
    key_file
        File holding the pseudonymisation key (``GEOINTEL_PSEUDONYM_KEY`` overrides it).
    seed
        Seed of every random step.
    suppression_threshold
        Counts from 1 to ``suppression_threshold - 1`` are suppressed in partner outputs;
        3 to :data:`MAX_THRESHOLD` (with 1 nothing would be hidden, and with 2 a hidden
        count would be 1 by the rule itself).
    accounts_file
        Local app accounts (hashed passwords, roles); ``data_dir/accounts.toml`` if unset.
    audit_file
        Append-only audit log; ``data_dir/audit.sqlite`` if unset.
    upload_max_mb
        Largest file the app accepts as an upload, in MB (1 to :data:`MAX_UPLOAD_MB`). The
        Streamlit server has its own cap, ``server.maxUploadSize`` in
        ``.streamlit/config.toml`` (50, like this default); the effective limit is the
        smaller of the two, and the Data page says so when this setting is larger.
    """

    data_dir: Path = PROJECT_ROOT / "data"
    mirror: Path | None = None
    areas: tuple[str, ...] = SET_AREAS
    key_file: Path | None = None
    seed: int = 42
    suppression_threshold: int = 5
    marking_police: str = "OFFICIAL-SENSITIVE"
    marking_partner: str = "OFFICIAL"
    accounts_file: Path | None = None
    audit_file: Path | None = None
    upload_max_mb: int = 50

    def __post_init__(self) -> None:
        checks = (("suppression_threshold", 3, MAX_THRESHOLD,
                   "1 would hide nothing and 2 would hide only counts of 1, which a reader of "
                   "the rule can read back; 5 is usual"),
                  ("upload_max_mb", 1, MAX_UPLOAD_MB, "the default is 50"))
        for name, low, high, why in checks:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValidationError(f"setting {name} must be a whole number from {low} to "
                                      f"{high}, got {value!r} ({why})")

    @property
    def samples_dir(self) -> Path:
        return self.data_dir / "samples"

    @property
    def published_dir(self) -> Path:
        """Briefings published for the viewer role."""
        return self.data_dir / "published"

    def resolved_accounts_file(self) -> Path:
        return self.accounts_file or self.data_dir / "accounts.toml"

    def resolved_audit_file(self) -> Path:
        return self.audit_file or self.data_dir / "audit.sqlite"

    def resolved_key_file(self) -> Path:
        """The key file to use: the configured one or ``data_dir/pseudonym.key``."""
        return self.key_file if self.key_file is not None else self.data_dir / "pseudonym.key"

    def resolved_mirror(self) -> Path | None:
        """The mirror to read from: configured, else ``../shared/data`` if it exists."""
        if self.mirror is not None:
            return self.mirror
        for base in (Path.cwd(), PROJECT_ROOT):
            candidate = (base / ".." / "shared" / "data").resolve()
            if candidate.is_dir():
                return candidate
        return None


def _convert(name: str, value: Any, default: Any, source: str) -> Any:
    try:
        if name == "areas":
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(a.strip() for a in items if a.strip())
        if name in {"data_dir", "mirror", "key_file", "accounts_file", "audit_file"}:
            return Path(value).expanduser() if value not in ("", None) else None
        if isinstance(default, int):
            return int(value)
        return str(value)
    except (TypeError, ValueError):
        raise ValidationError(
            f"setting {name!r} from {source} has an unusable value {value!r}; "
            f"expected something like {default!r}"
        ) from None


def load_settings(config: str | Path | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from a TOML file and ``GEOINTEL_*`` variables over the defaults.

    Parameters
    ----------
    config
        TOML file with keys named like the :class:`Settings` fields. ``None`` means
        ``GEOINTEL_CONFIG`` if set, else ``geointel.toml`` in the working directory if it
        exists. A file named explicitly (argument or variable) must exist.
    env
        The environment (``os.environ`` when ``None``).
    """
    env = os.environ if env is None else env
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    named = config if config is not None else env.get("GEOINTEL_CONFIG")
    path = Path(named) if named else Path("geointel.toml")
    values: dict[str, Any] = {}
    if path.is_file():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ValidationError(f"{path}: not valid TOML ({err})") from None
        unknown = sorted(set(table) - set(fields))
        if unknown:
            raise ValidationError(
                f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}")
        for name, value in table.items():
            values[name] = _convert(name, value, fields[name].default, str(path))
    elif named:
        raise ValidationError(
            f"settings file {path} does not exist; check --config or GEOINTEL_CONFIG")
    for name, f in fields.items():
        key = f"GEOINTEL_{name.upper()}"
        if key in env:
            values[name] = _convert(name, env[key], f.default, key)
    return Settings(**values)
