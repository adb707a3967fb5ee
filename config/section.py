"""The base of every settings section."""

from typing import Annotated

import msgspec

PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for settings sections: unknown keys are errors."""
