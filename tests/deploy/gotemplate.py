"""A small evaluator for the subset of Go templates + Sprig that the Atrium Helm chart uses.

No `helm` binary can be installed from this project's package registries, so the chart is rendered here:
actions with `{{-`/`-}}` trimming and comments; `if`/`else if`/`else`, `range` (lists and maps, with
`$k, $v :=`), `with`, `define`/`include`; variables (`:=`, `=`, `$`); pipelines and parenthesised
calls; the functions default, quote, printf, trunc, trimSuffix, contains, toYaml, indent, nindent, required, eq, ne,
and, or, not. Anything else is an error, so a template that strays outside the subset fails loudly.
Like Helm: maps range in key order, `toYaml` sorts keys and drops the last newline, a missing map key is
empty, and a field of a missing value is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TemplateError(Exception):
    pass


class RequiredValueError(TemplateError):
    pass


# --- lexing ------------------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)


def _segments(source: str) -> list[tuple[str, str]]:
    """[("text", s) | ("action", s)] with trim markers applied to the neighbouring text."""
    out: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for match in _ACTION.finditer(source):
        text = source[pos : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1) == "-":
            text = text.rstrip()
        out.append(("text", text))
        body = match.group(2)
        if match.group(1) == "-" and not body.startswith((" ", "\t", "\n")) and body:
            raise TemplateError(f"'{{{{-' must be followed by a space: {match.group(0)!r}")
        out.append(("action", body.strip()))
        trim_next = match.group(3) == "-"
        pos = match.end()
    tail = source[pos:]
    out.append(("text", tail.lstrip() if trim_next else tail))
    return out


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<decl>:=)
    | (?P<assign>=)
    | (?P<punct>[()|,])
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    expression = expression.strip()
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if match is None or match.end() == pos:
            raise TemplateError(f"cannot read {expression[pos:]!r} in {expression!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


# --- parsing -----------------------------------------------------------------------------------------


@dataclass
class Node:
    kind: str  # text | action | if | range | with
    value: str = ""
    branches: list[tuple[str, list[Node]]] = field(default_factory=list)  # (expression, body)
    otherwise: list[Node] = field(default_factory=list)


def _parse(segments: list[tuple[str, str]], defines: dict[str, list[Node]]) -> list[Node]:
    position = 0

    def block(terminators: tuple[str, ...]) -> tuple[list[Node], str]:
        nonlocal position
        nodes: list[Node] = []
        while position < len(segments):
            kind, body = segments[position]
            position += 1
            if kind == "text":
                if body:
                    nodes.append(Node("text", body))
                continue
            if body.startswith("/*"):
                if not body.endswith("*/"):
                    raise TemplateError(f"unclosed comment {body!r}")
                continue
            keyword = body.split(None, 1)[0] if body else ""
            rest = body[len(keyword) :].strip()
            if keyword in terminators or (keyword == "else" and "else" in terminators):
                return nodes, body
            if keyword in ("if", "range", "with"):
                node = Node(keyword)
                expression = rest
                while True:
                    inner, ended = block(("end", "else"))
                    node.branches.append((expression, inner))
                    if ended == "end":
                        break
                    after_else = ended[len("else") :].strip()
                    if keyword == "if" and after_else.startswith("if "):
                        expression = after_else[3:].strip()
                        continue
                    if after_else:
                        raise TemplateError(f"unsupported {{{{ {ended} }}}}")
                    node.otherwise, ended = block(("end",))
                    break
                nodes.append(node)
            elif keyword == "define":
                name = yaml.safe_load(rest)
                inner, _ = block(("end",))
                defines[name] = inner
            elif keyword in ("end", "else"):
                raise TemplateError(f"unexpected {{{{ {body} }}}}")
            elif keyword in ("template", "block", "break", "continue"):
                raise TemplateError(f"{keyword} is outside the supported subset")
            else:
                nodes.append(Node("action", body))
        if terminators:
            raise TemplateError(f"missing {{{{ end }}}} (expected one of {terminators})")
        return nodes, ""

    nodes, _ = block(())
    return nodes


# --- values and functions ----------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, (str, list, dict, tuple)):
        return len(value) > 0
    return True


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dict, list)):
        raise TemplateError(f"printing a {type(value).__name__} needs toYaml: {value!r}")
    return str(value)


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def substitute(match: re.Match[str]) -> str:
        verb = match.group(1)
        if verb == "%":
            return "%"
        value = next(values)
        if verb == "d":
            return str(int(value))
        if verb == "q":
            return _quote(value)
        return to_text(value)

    return re.sub(r"%([sdvq%])", substitute, fmt)


def _quote(*values: Any) -> str:
    quoted = []
    for value in values:
        if value is None:
            continue
        text = to_text(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        quoted.append(f'"{text}"')
    return " ".join(quoted)


def _to_yaml(value: Any) -> str:
    if value is None:
        return "null"
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True).removesuffix("\n")


def _indent(width: int, text: str) -> str:
    pad = " " * int(width)
    return "\n".join(pad + line for line in str(text).split("\n"))


def _required(message: str, value: Any) -> Any:
    if value is None or value == "":
        raise RequiredValueError(message)
    return value


def _and(*values: Any) -> Any:
    for value in values:
        if not truthy(value):
            return value
    return values[-1]


def _or(*values: Any) -> Any:
    for value in values:
        if truthy(value):
            return value
    return values[-1]


FUNCTIONS: dict[str, Any] = {
    "default": lambda fallback, value=None: value if truthy(value) else fallback,
    "quote": _quote,
    "printf": _printf,
    "trunc": lambda n, s: to_text(s)[: int(n)],
    "trimSuffix": lambda suffix, s: to_text(s).removesuffix(suffix),
    "contains": lambda needle, s: needle in to_text(s),
    "toYaml": _to_yaml,
    "indent": _indent,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "required": _required,
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "and": _and,
    "or": _or,
    "not": lambda v: not truthy(v),
}


# --- evaluation --------------------------------------------------------------------------------------


class Renderer:
    def __init__(self, defines: dict[str, list[Node]]) -> None:
        self.defines = defines

    def render(self, nodes: list[Node], dot: Any, root: Any, scopes: list[dict[str, Any]]) -> str:
        out: list[str] = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.value)
            elif node.kind == "action":
                value, declared = self.pipeline(node.value, dot, root, scopes)
                if not declared:
                    out.append(to_text(value))
            elif node.kind == "if":
                for expression, body in node.branches:
                    if truthy(self.pipeline(expression, dot, root, scopes)[0]):
                        out.append(self.render(body, dot, root, [*scopes, {}]))
                        break
                else:
                    out.append(self.render(node.otherwise, dot, root, [*scopes, {}]))
            elif node.kind == "with":
                expression, body = node.branches[0]
                value = self.pipeline(expression, dot, root, scopes)[0]
                chosen, new_dot = (body, value) if truthy(value) else (node.otherwise, dot)
                out.append(self.render(chosen, new_dot, root, [*scopes, {}]))
            elif node.kind == "range":
                out.append(self.range(node, dot, root, scopes))
        return "".join(out)

    def range(self, node: Node, dot: Any, root: Any, scopes: list[dict[str, Any]]) -> str:
        expression, body = node.branches[0]
        names: list[str] = []
        if ":=" in expression:
            left, expression = expression.split(":=", 1)
            names = [name.strip() for name in left.split(",")]
        collection = self.pipeline(expression, dot, root, scopes)[0]
        if isinstance(collection, dict):
            items = [(key, collection[key]) for key in sorted(collection)]
        elif isinstance(collection, (list, tuple)):
            items = list(enumerate(collection))
        elif collection is None:
            items = []
        else:
            items = [(i, i) for i in range(int(collection))]
        if not items:
            return self.render(node.otherwise, dot, root, [*scopes, {}])
        out = []
        for key, value in items:
            scope: dict[str, Any] = {}
            if len(names) == 1:
                scope[names[0]] = value
            elif len(names) == 2:
                scope[names[0]], scope[names[1]] = key, value
            out.append(self.render(body, value, root, [*scopes, scope]))
        return "".join(out)

    def pipeline(
        self, expression: str, dot: Any, root: Any, scopes: list[dict[str, Any]]
    ) -> tuple[Any, bool]:
        """(value, whether it was a declaration, which prints nothing)."""
        tokens = _tokens(expression)
        target: str | None = None
        declare = False
        if len(tokens) >= 2 and tokens[0][0] == "var" and tokens[1][0] in ("decl", "assign"):
            target, declare = tokens[0][1], tokens[1][0] == "decl"
            tokens = tokens[2:]
        value, rest = self._pipe(tokens, dot, root, scopes)
        if rest:
            raise TemplateError(f"unexpected {rest[0][1]!r} in {expression!r}")
        if target is not None:
            if declare:
                scopes[-1][target] = value
            else:
                for scope in reversed(scopes):
                    if target in scope:
                        scope[target] = value
                        break
                else:
                    raise TemplateError(f"assignment to undeclared {target}")
            return value, True
        return value, False

    def _pipe(self, tokens: list[tuple[str, str]], dot: Any, root: Any, scopes: list[dict[str, Any]]):
        value: Any = None
        first = True
        while True:
            value, tokens = self._command(tokens, dot, root, scopes, None if first else (value,))
            first = False
            if tokens and tokens[0] == ("punct", "|"):
                tokens = tokens[1:]
                continue
            return value, tokens

    def _command(self, tokens, dot, root, scopes, piped: tuple[Any] | None):
        if not tokens:
            raise TemplateError("empty command")
        kind, text = tokens[0]
        if kind == "ident" and text not in ("true", "false", "nil"):
            args: list[Any] = []
            tokens = tokens[1:]
            while tokens and tokens[0] not in (("punct", "|"), ("punct", ")")):
                arg, tokens = self._operand(tokens, dot, root, scopes)
                args.append(arg)
            if piped is not None:
                args.append(piped[0])
            return self.call(text, args), tokens
        if piped is not None:
            raise TemplateError(f"cannot pipe into {text!r}")
        value, tokens = self._operand(tokens, dot, root, scopes)
        if tokens and tokens[0] not in (("punct", "|"), ("punct", ")")):
            raise TemplateError(f"{text!r} is not a function but has arguments")
        return value, tokens

    def _operand(self, tokens, dot, root, scopes):
        kind, text = tokens[0]
        rest = tokens[1:]
        if kind == "punct" and text == "(":
            value, rest = self._pipe(rest, dot, root, scopes)
            if not rest or rest[0] != ("punct", ")"):
                raise TemplateError("unbalanced parenthesis")
            return value, rest[1:]
        if kind == "string":
            return yaml.safe_load(text) if "\\" not in text else bytes(text[1:-1], "utf-8").decode(
                "unicode_escape"
            ), rest
        if kind == "raw":
            return text[1:-1], rest
        if kind == "number":
            return (float(text) if "." in text else int(text)), rest
        if kind == "ident":
            if text in ("true", "false"):
                return text == "true", rest
            if text == "nil":
                return None, rest
            return self.call(text, []), rest
        if kind == "field":
            return self.lookup(dot, text), rest
        if kind == "var":
            name, _, path = text.partition(".")
            if name == "$":
                base = root
            else:
                for scope in reversed(scopes):
                    if name in scope:
                        base = scope[name]
                        break
                else:
                    raise TemplateError(f"undefined variable {name}")
            return (self.lookup(base, "." + path) if path else base), rest
        raise TemplateError(f"unexpected {text!r}")

    @staticmethod
    def lookup(value: Any, path: str) -> Any:
        if path == ".":
            return value
        walked = ""
        for name in path.strip(".").split("."):
            if not isinstance(value, dict):
                raise TemplateError(f"nil pointer evaluating {walked or '.'}.{name}")
            value = value.get(name)
            walked += "." + name
        return value

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "include":
            template, context = args
            if template not in self.defines:
                raise TemplateError(f"no template named {template!r}")
            return self.render(self.defines[template], context, context, [{}])
        if name not in FUNCTIONS:
            raise TemplateError(f"function {name!r} is outside the supported subset")
        return FUNCTIONS[name](*args)


# --- a chart -----------------------------------------------------------------------------------------


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def render_chart(
    chart_dir: Path,
    value_files: list[Path] = (),  # type: ignore[assignment]
    overrides: dict[str, Any] | None = None,
    release: str = "atrium",
    namespace: str = "default",
) -> dict[str, str]:
    """{template file name: rendered text}, as `helm template` renders the chart's own templates."""
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    values = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
    for path in value_files:
        values = deep_merge(values, yaml.safe_load(Path(path).read_text()) or {})
    values = deep_merge(values, overrides or {})
    context = {
        "Values": values,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": True},
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart.get("appVersion")},
    }
    templates = sorted((chart_dir / "templates").iterdir())
    defines: dict[str, list[Node]] = {}
    parsed: dict[str, list[Node]] = {}
    for path in templates:  # every file's defines are visible to every other file, helpers first
        nodes = _parse(_segments(path.read_text()), defines)
        if not path.name.startswith("_"):
            parsed[path.name] = nodes
    renderer = Renderer(defines)
    return {name: renderer.render(nodes, context, context, [{}]) for name, nodes in parsed.items()}


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every non-empty YAML document of the rendered templates (NOTES.txt is not a manifest)."""
    documents = []
    for name, text in sorted(rendered.items()):
        if not name.endswith((".yaml", ".yml")):
            continue
        for document in yaml.safe_load_all(text):
            if document is not None:
                document.setdefault("__source__", name)
                documents.append(document)
    return documents
