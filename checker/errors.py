"""User-facing input errors and warnings: `path:line:col: error: message`, a quoted line and a
caret. Several errors found in one run travel together as one FlowErrors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from checker.front.source import SourceText, Span

# The most errors one run prints; beyond it a last line says how many more there are.
MAX_SHOWN = 20


class FlowError(Exception):
    """An error in the user's input. The CLI prints it and exits with status 2."""

    def __init__(self, span: Span | None, message: str, notes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.span = span
        self.message = message
        self.notes = notes

    def __reduce__(self):  # picklable, so that an error raised in a --jobs worker comes back
        return (type(self), (self.span, self.message, self.notes))

    @property
    def errors(self) -> tuple[FlowError, ...]:
        """Each error this one stands for (itself, or those of a FlowErrors)."""
        return (self,)

    @property
    def more(self) -> int:
        """How many errors were found beyond those kept in `errors`."""
        return 0

    def render(self, sources: dict[str, SourceText] | None = None) -> str:
        """The message as printed: location, message, the source line with a caret, notes."""
        return render_one("error", self.span, self.message, self.notes, sources)


class FlowErrors(FlowError):
    """Several input errors, in the order they were found; it reads as the first one (span,
    message), and renders them all, `more` of them left out and counted."""

    def __init__(self, errors: tuple[FlowError, ...], more: int = 0) -> None:
        first = errors[0]
        super().__init__(first.span, first.message, first.notes)
        self._errors = errors
        self._more = more

    def __reduce__(self):
        return (FlowErrors, (self._errors, self._more))

    @property
    def errors(self) -> tuple[FlowError, ...]:
        return self._errors

    @property
    def more(self) -> int:
        return self._more

    def render(self, sources: dict[str, SourceText] | None = None) -> str:
        parts = [error.render(sources) for error in self._errors]
        if self._more:
            parts.append(f"... and {self._more:,} more error{'s' * (self._more != 1)}")
        return "\n".join(parts)


class ErrorList:
    """Collects the errors of independent pieces of input (blocks, declarations, statements)
    so that one run reports them all: `with errors.catch(): ...` around each piece, then
    `raise_any()`. It keeps MAX_SHOWN of them and counts the others."""

    def __init__(self) -> None:
        self.kept: list[FlowError] = []
        self.more = 0

    def __bool__(self) -> bool:
        return bool(self.kept)

    def add(self, error: FlowError) -> None:
        for one in error.errors:
            if len(self.kept) < MAX_SHOWN:
                self.kept.append(one)
            else:
                self.more += 1
        self.more += error.more

    @contextmanager
    def catch(self) -> Iterator[None]:
        try:
            yield
        except FlowError as error:
            self.add(error)

    def raise_any(self) -> None:
        if len(self.kept) == 1 and not self.more:
            raise self.kept[0]
        if self.kept:
            raise FlowErrors(tuple(self.kept), self.more)


@dataclass(frozen=True)
class FlowWarning:
    """Something legal in the input that is likely not what was meant. It is printed on
    stderr and changes no exit status."""

    span: Span | None
    message: str
    notes: tuple[str, ...] = ()

    def render(self, sources: dict[str, SourceText] | None = None) -> str:
        return render_one("warning", self.span, self.message, self.notes, sources)


def render_one(
    level: str,
    span: Span | None,
    message: str,
    notes: tuple[str, ...],
    sources: dict[str, SourceText] | None,
) -> str:
    """`path:line:col: LEVEL: message`, the quoted line with a caret under the column, notes."""
    lines = [f"{level}: {message}" if span is None else f"{span}: {level}: {message}"]
    source = (sources or {}).get(span.path) if span else None
    if source is not None and span is not None:
        text = source.line(span.line).expandtabs(1)
        if text:
            lines.append(f"    {text}")
            lines.append("    " + " " * (span.col - 1) + "^")
    lines.extend(f"note: {note}" for note in notes)
    return "\n".join(lines)
