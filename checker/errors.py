"""User-facing input errors: `path:line:col: error: message`, a quoted line and a caret."""

from __future__ import annotations

from checker.front.source import SourceText, Span


class FlowError(Exception):
    """An error in the user's input. The CLI prints it and exits with status 2."""

    def __init__(self, span: Span | None, message: str, notes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.span = span
        self.message = message
        self.notes = notes

    def __reduce__(self):  # picklable, so that an error raised in a --jobs worker comes back
        return (type(self), (self.span, self.message, self.notes))

    def render(self, sources: dict[str, SourceText] | None = None) -> str:
        """The message as printed: location, message, the source line with a caret, notes."""
        if self.span is None:
            head = f"error: {self.message}"
        else:
            head = f"{self.span}: error: {self.message}"
        lines = [head]
        source = (sources or {}).get(self.span.path) if self.span else None
        if source is not None and self.span is not None:
            text = source.line(self.span.line).expandtabs(1)
            if text:
                lines.append(f"    {text}")
                lines.append("    " + " " * (self.span.col - 1) + "^")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)
