"""The base of every settings section."""

import msgspec


class Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for settings sections: unknown keys are errors."""
