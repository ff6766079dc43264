"""Where the grammar and the built-in arch library are: beside the package in a checkout
(grammar/, specs/arch/), or inside it as package data once installed."""

from __future__ import annotations

from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]  # checker/front/resources.py -> the checkout


def grammar_text() -> str:
    """The text of flow.lark."""
    in_checkout = _CHECKOUT / "grammar" / "flow.lark"
    if in_checkout.is_file():
        return in_checkout.read_text(encoding="utf-8")
    from importlib import resources  # installed: package data (imported only then: slow)

    return resources.files("checker.grammar").joinpath("flow.lark").read_text(encoding="utf-8")


def builtin_arch_files() -> list[tuple[str, str]]:
    """(display path, text) of every built-in arch file, sorted by name."""
    in_checkout = _CHECKOUT / "specs" / "arch"
    if in_checkout.is_dir():
        files = sorted(in_checkout.glob("*.flow"))
        return [(f"<builtin>/{f.name}", f.read_text(encoding="utf-8")) for f in files]
    from importlib import resources

    package = resources.files("checker.archlib")
    entries = sorted(
        (e for e in package.iterdir() if e.name.endswith(".flow")), key=lambda e: e.name
    )
    return [(f"<builtin>/{e.name}", e.read_text(encoding="utf-8")) for e in entries]


def builtin_arch_paths() -> dict[str, Path]:
    """The file each built-in arch file is read from, by display path (`<builtin>/NAME.flow`),
    for tools that open it (the language server's go-to-definition). Files inside a zip
    import are left out: there is no file to point at."""
    in_checkout = _CHECKOUT / "specs" / "arch"
    if in_checkout.is_dir():
        return {f"<builtin>/{f.name}": f for f in sorted(in_checkout.glob("*.flow"))}
    from importlib import resources

    # A namespace package's files() is no Path, but its entries are (a zip's are not).
    entries = resources.files("checker.archlib").iterdir()
    files = sorted(e for e in entries if isinstance(e, Path) and e.name.endswith(".flow"))
    return {f"<builtin>/{f.name}": f for f in files}
