"""Component validation: the checks the spec requires beyond well-formed bytes.

Placeholder: translation (``translate.inline``) already rejects dangling
indices and sort mismatches; the full validator is being built.
"""

from __future__ import annotations

from ..binary.ast import ComponentAST


def validate_component(component: ComponentAST) -> None:
    """Raise ``ValidationError`` if ``component`` is invalid."""
