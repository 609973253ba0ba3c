"""server.properties for a local Kafka node, from a template and overlays (deploy/local/stack.sh).

    properties.py TEMPLATE [OVERLAY ...] --output FILE [--var NAME=VALUE ...] [--unset KEY ...]

The template is read first; each overlay's settings then replace the same keys where they
stand (so the file keeps the template's order and comments) and its new keys are added at the
end, under the overlay's own comments. ``--unset`` removes a key (and the comment right above
it). ``@NAME@`` placeholders are
filled in from ``--var``; one left unfilled is an error, as is a key set twice in one file.
The output is written readable by its owner only (it may hold the broker's SCRAM password),
and replaces FILE at once.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


class PropertiesError(ValueError):
    """A template or overlay that cannot be used as it is."""


def key_of(line: str) -> str | None:
    """The key a properties line sets, or None for a comment or a blank line."""
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "!")):
        return None
    return re.split(r"\s*[=:]\s*|\s+", stripped, maxsplit=1)[0]


def merge(template: str, overlays: list[str], unset: set[str]) -> list[str]:
    """The template's lines with each overlay's settings applied in turn."""
    lines = template.splitlines()
    for overlay in overlays:
        settings: dict[str, str] = {}
        for line in overlay.splitlines():
            key = key_of(line)
            if key is not None:
                if key in settings:
                    raise PropertiesError(f"{key} is set twice in one overlay")
                settings[key] = line
        replaced = set()
        for i, line in enumerate(lines):
            key = key_of(line)
            if key in settings:
                lines[i] = settings[key]
                replaced.add(key)
        # New keys, with the comments that stand before them in the overlay.
        pending: list[str] = []
        for line in overlay.splitlines():
            key = key_of(line)
            if key is None:
                pending.append(line)
            elif key not in replaced:
                lines += [*pending, line]
                pending = []
            else:
                pending = []
    return drop(lines, unset)


def drop(lines: list[str], keys: set[str]) -> list[str]:
    """The lines without the settings of ``keys``, nor the comment lines right above them."""
    kept: list[str] = []
    for line in lines:
        if key_of(line) in keys:
            while kept and kept[-1].lstrip().startswith("#") and not kept[-1].startswith("####"):
                kept.pop()
            continue
        kept.append(line)
    return kept


def fill(lines: list[str], values: dict[str, str]) -> str:
    """The lines with their ``@NAME@`` placeholders filled in."""
    missing = sorted({m for line in lines for m in PLACEHOLDER.findall(line)} - set(values))
    if missing:
        raise PropertiesError(f"no value for {', '.join('@' + m + '@' for m in missing)}")
    return "\n".join(PLACEHOLDER.sub(lambda m: values[m.group(1)], line) for line in lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 600), replacing it in one step."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("template", type=Path)
    parser.add_argument("overlays", type=Path, nargs="*")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--unset", action="append", default=[], metavar="KEY")
    args = parser.parse_args(argv)
    values = dict(v.split("=", 1) for v in args.var)
    try:
        lines = merge(
            args.template.read_text(), [o.read_text() for o in args.overlays], set(args.unset)
        )
        write_private(args.output, fill(lines, values))
    except (OSError, PropertiesError) as exc:
        print(f"properties.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
