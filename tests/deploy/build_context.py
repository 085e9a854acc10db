"""What a Docker build sees, read without Docker: the Dockerfile's stages and instructions,
and the build context as ``.dockerignore`` filters it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: RUN, COPY, ...
    arguments: str  # the rest of the (joined) line
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/RUN/HEALTHCHECK CMD, else None."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1].strip() if " CMD " in f" {text}" else ""
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, list) else None


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self, initial: dict[str, str]) -> dict[str, str]:
        """The stage's ENV (``KEY=value`` pairs), expanded over ``initial`` as Docker does."""
        values = dict(initial)
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                values[key] = expand(value, values)
        return values


def expand(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        return values.get(name) or (default if default is not None else "")

    return _VARIABLE.sub(replace, text)


def instructions(text: str) -> list[Instruction]:
    """Logical instructions: comments dropped, backslash continuations joined."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        keyword, _, rest = joined.partition(" ")
        result.append(Instruction(keyword.upper(), rest.strip(), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def stages(path: Path = ROOT / "Dockerfile") -> list[Stage]:
    global_args: dict[str, str] = {}
    found: list[Stage] = []
    for instruction in instructions(path.read_text()):
        if instruction.keyword == "ARG" and not found:
            name, _, default = instruction.arguments.partition("=")
            global_args[name] = default
        elif instruction.keyword == "FROM":
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(found))
            found.append(Stage(base=expand(words[0], global_args), name=name))
        else:
            assert found, f"line {instruction.line}: {instruction.keyword} before FROM"
            found[-1].instructions.append(instruction)
    return found


def _pattern(rule: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus ``**``) as a regular expression."""
    out = ""
    i = 0
    while i < len(rule):
        if rule.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif rule.startswith("**", i):
            out += ".*"
            i += 2
        elif rule[i] == "*":
            out += "[^/]*"
            i += 1
        elif rule[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(rule[i])
            i += 1
    return re.compile(out + r"\Z")


def ignore_rules(path: Path = ROOT / ".dockerignore") -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) per rule, in order; the last rule that matches wins."""
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        cleaned = os.path.normpath(line.lstrip("!").lstrip("/"))
        rules.append((not negated, _pattern(cleaned)))
    return rules


def excluded(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker leaves ``relative`` out: a rule matching the path or a parent folder."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for excludes, pattern in rules:
        if any(pattern.match(prefix) for prefix in prefixes):
            verdict = excludes
    return verdict


def context_files(root: Path = ROOT) -> list[str]:
    """Every path (relative, with ``/``) the build context sends to the daemon."""
    rules = ignore_rules(root / ".dockerignore")
    # Folders are pruned once excluded, which is exact only without "!" exceptions.
    assert all(excludes for excludes, _ in rules), "the walk below does not follow '!' exceptions"
    files: list[str] = []
    for folder, dirs, names in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else f"{base}/"
        dirs[:] = [d for d in dirs if not excluded(prefix + d, rules)]
        files.extend(prefix + n for n in names if not excluded(prefix + n, rules))
        # Symbolic links to folders are sent as links; os.walk lists them among the folders.
        files.extend(prefix + d for d in dirs if (Path(folder) / d).is_symlink())
    return sorted(files)


def copy_context(target: Path, root: Path = ROOT) -> Path:
    """The build context copied to ``target``: what ``COPY . .`` puts in the image."""
    for relative in context_files(root):
        source, destination = root / relative, target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, destination)
    return target
