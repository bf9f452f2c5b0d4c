"""How Accord writes documents from Jinja templates.

:func:`environment` is the one environment every package of templates is rendered with
(the subject access letter in `accord.rights`, the oversight report in
`accord.oversight`): HTML escaped, an undefined name an error, blocks trimmed.
:data:`VOCABULARY` is `accord.vocab`'s enums by name, a global in those templates and in
the web's (`accord.web.words.TEMPLATE_GLOBALS`), so that a template compares a status or
a kind with ``ItemStatus.OPEN``, never by spelling the word.
"""

from __future__ import annotations

from enum import StrEnum

import jinja2

from accord import vocab

VOCABULARY: dict[str, type[StrEnum]] = {
    name: value
    for name, value in vars(vocab).items()
    if isinstance(value, type) and issubclass(value, StrEnum) and value is not StrEnum
}


def environment(package: str) -> jinja2.Environment:
    """The environment for ``package``'s ``templates`` folder, with :data:`VOCABULARY`."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(VOCABULARY)
    return env
