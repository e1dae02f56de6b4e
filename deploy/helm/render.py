#!/usr/bin/env python3
"""Renders the Helm chart in deploy/helm/accord as `helm template` does, for the part of
Go's template language the chart uses, so the chart can be checked where Helm is not
installed.

    render.py [CHART] [--values FILE]... [--release NAME] [--namespace NS] > manifests.yaml

The subset (anything else is an error, never a silent difference):
  - text and actions `{{ … }}`, with the trim markers `{{-` and `-}}`, and comments
    `{{/* … */}}`;
  - `if` / `else` / `end`, `range $v := …`, `range $i, $v := …`, `$x := …`;
  - pipelines of terms: `.Values.a.b`, `.Release.Name`, `.Release.Namespace`,
    `.Chart.Name`, `.Chart.Version`, `.Chart.AppVersion`, `$var.field`, `$` (the
    top), string and integer literals, `( … )`;
  - the functions quote, default, toYaml, nindent, indent, int, add, sub, mul, div,
    len, join, printf (%s, %d, %v), eq, ne, not, and, or.
Values print as Helm prints them: numbers from values files are float64 in Helm, so
1000000 prints as 1e+06; a missing value is an error here (Helm would print nothing).
Documents are ordered as Helm installs them (by kind, then template file), each under
`---` and a `# Source:` line.

Needs Python 3.11 and PyYAML.
"""

import argparse
import json
import math
import os
import re
import sys

import yaml

# Helm 3's install order (pkg/releaseutil/kind_sorter.go); other kinds come last, by
# kind name.
INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
    "PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
    "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
    "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
    "APIService",
]


class TemplateError(Exception):
    pass


# ---- values as Go prints them ------------------------------------------------------


def go_float(f):
    """fmt's %v of a float64: strconv's 'g' with the shortest digits, %e from 1e+06."""
    if f != f:
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    digits, exp = _shortest(f)
    x = exp - 1  # the decimal exponent of the first digit
    sign = "-" if f < 0 else ""
    if x < -4 or x >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if exp <= 0:
        return f"{sign}0.{'0' * -exp}{digits}"
    if exp >= len(digits):
        return sign + digits + "0" * (exp - len(digits))
    return f"{sign}{digits[:exp]}.{digits[exp:]}"


def _shortest(f):
    """The shortest decimal digits of |f| and the position of the decimal point."""
    r = repr(abs(f))
    m = re.fullmatch(r"(\d+)(?:\.(\d*))?(?:e([+-]\d+))?", r)
    if not m:
        raise TemplateError(f"cannot print {f!r}")
    whole, frac, ex = m.group(1), m.group(2) or "", int(m.group(3) or 0)
    digits = (whole + frac).lstrip("0")
    lead = len(whole) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    point = lead + ex
    digits = digits.rstrip("0") or "0"
    return digits, point


def go_str(v):
    if v is None:
        raise TemplateError("a value the chart uses is missing")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return go_float(float(v))
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_str(v[k])}" for k in sorted(v)) + "]"
    raise TemplateError(f"cannot print {v!r}")


def to_yaml(v):
    """sigs.k8s.io/yaml's output (go-yaml v2) for maps, lists, strings, numbers, bools."""
    lines = _yaml_lines(v, 0)
    return "\n".join(lines)


_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./ -]*")


def _yaml_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e21 else repr(f)
    if isinstance(v, str):
        if v and _PLAIN.fullmatch(v) and not v.endswith(" ") and yaml.safe_load(v) == v:
            return v
        return json.dumps(v, ensure_ascii=False)
    raise TemplateError(f"toYaml cannot write {v!r}")


def _yaml_lines(v, indent):
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return [pad + "{}"]
        out = []
        for k in sorted(v):
            item = v[k]
            if isinstance(item, dict) and item:
                out.append(f"{pad}{k}:")
                out.extend(_yaml_lines(item, indent + 2))
            elif isinstance(item, list) and item:
                out.append(f"{pad}{k}:")
                out.extend(_yaml_lines(item, indent))
            else:
                out.append(f"{pad}{k}: {_yaml_inline(item)}")
        return out
    if isinstance(v, list):
        if not v:
            return [pad + "[]"]
        out = []
        for item in v:
            if isinstance(item, (dict, list)) and item:
                sub = _yaml_lines(item, indent + 2)
                out.append(pad + "- " + sub[0].lstrip())
                out.extend(sub[1:])
            else:
                out.append(f"{pad}- {_yaml_inline(item)}")
        return out
    return [pad + _yaml_scalar(v)]


def _yaml_inline(v):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _yaml_scalar(v)


# ---- the template language --------------------------------------------------------

ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


def tokenize(text):
    """Text and actions, with the trim markers applied to the text around them."""
    parts = []
    pos = 0
    for m in ACTION.finditer(text):
        before = text[pos:m.start()]
        if m.group(1):
            before = before.rstrip(" \t\r\n")
        parts.append(("text", before))
        parts.append(("action", m.group(2).strip(), bool(m.group(3))))
        pos = m.end()
    parts.append(("text", text[pos:]))
    out = []
    trim_next = False
    for p in parts:
        if p[0] == "text":
            t = p[1].lstrip(" \t\r\n") if trim_next else p[1]
            out.append(("text", t))
            trim_next = False
        else:
            out.append(("action", p[1]))
            trim_next = p[2]
    return out


def parse(tokens):
    """A tree: ("text", s) | ("out", pipe) | ("assign", name, pipe) |
    ("if", pipe, then, else) | ("range", (i, v), pipe, body)."""
    pos = 0

    def block(stop):
        nonlocal pos
        nodes = []
        while pos < len(tokens):
            tok = tokens[pos]
            pos += 1
            if tok[0] == "text":
                if tok[1]:
                    nodes.append(("text", tok[1]))
                continue
            act = tok[1]
            if act.startswith("/*"):
                if not act.endswith("*/"):
                    raise TemplateError(f"unclosed comment {act!r}")
                continue
            word = act.split(None, 1)[0] if act else ""
            if word in ("end", "else"):
                if word not in stop:
                    raise TemplateError(f"unexpected {{{{ {act} }}}}")
                if act != word:
                    raise TemplateError(f"{{{{ {act} }}}} is outside the subset")
                return nodes, word
            if word == "if":
                cond = parse_pipe(act[2:])
                then, ended = block(("end", "else"))
                other = []
                if ended == "else":
                    other, _ = block(("end",))
                nodes.append(("if", cond, then, other))
            elif word == "range":
                m = re.fullmatch(r"range\s+(?:(\$\w+)\s*,\s*)?(\$\w+)\s*:=\s*(.+)", act, re.S)
                if not m:
                    raise TemplateError(f"{{{{ {act} }}}}: use range $v := … or range $i, $v := …")
                body, _ = block(("end",))
                nodes.append(("range", (m.group(1), m.group(2)), parse_pipe(m.group(3)), body))
            elif word in ("with", "define", "template", "include", "block", "break", "continue"):
                raise TemplateError(f"{{{{ {act} }}}} is outside the subset")
            else:
                m = re.fullmatch(r"(\$\w+)\s*:=\s*(.+)", act, re.S)
                if m:
                    nodes.append(("assign", m.group(1), parse_pipe(m.group(2))))
                else:
                    nodes.append(("out", parse_pipe(act)))
        if stop:
            raise TemplateError(f"missing {{{{ end }}}}")
        return nodes, None

    tree, _ = block(())
    return tree


TERM = re.compile(r'\s*(\(|\)|\||"(?:[^"\\]|\\.)*"|-?\d+|\$\w*(?:\.\w+)*|(?:\.\w+)+|\.|\w+)')


def parse_pipe(src):
    toks = []
    pos = 0
    src = src.strip()
    while pos < len(src):
        m = TERM.match(src, pos)
        if not m:
            raise TemplateError(f"cannot read {src[pos:]!r}")
        toks.append(m.group(1))
        pos = m.end()
        while pos < len(src) and src[pos].isspace():
            pos += 1
    items, rest = _pipe(toks, 0)
    if rest:
        raise TemplateError(f"unbalanced parentheses in {src!r}")
    return items


def _pipe(toks, depth):
    """[[term, …], …] (commands split on |), and the tokens after the closing ')'."""
    cmds = [[]]
    while toks:
        t = toks.pop(0)
        if t == "|":
            cmds.append([])
        elif t == "(":
            sub, toks = _pipe(toks, depth + 1)
            cmds[-1].append(("pipe", sub))
        elif t == ")":
            if depth == 0:
                raise TemplateError("unbalanced parentheses")
            return cmds, toks
        else:
            cmds[-1].append(t)
    if depth:
        raise TemplateError("unbalanced parentheses")
    return cmds, []


FUNCS = {}


def func(name):
    def register(f):
        FUNCS[name] = f
        return f
    return register


def _num(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:
            return int(v)
        except (TypeError, ValueError):
            raise TemplateError(f"{v!r} is not a number")
    return v


def _int64(v):
    return int(_num(v))


func("quote")(lambda *a: " ".join(json.dumps(go_str(x), ensure_ascii=False) for x in a))
func("default")(lambda d, v=None: v if v not in (None, "", [], {}, 0, False) else d)
func("toYaml")(to_yaml)
func("nindent")(lambda n, s: "\n" + "\n".join(" " * _int64(n) + l for l in go_str(s).split("\n")))
func("indent")(lambda n, s: "\n".join(" " * _int64(n) + l for l in go_str(s).split("\n")))
func("int")(_int64)
func("add")(lambda *a: sum(_int64(x) for x in a))
func("sub")(lambda a, b: _int64(a) - _int64(b))
func("mul")(lambda *a: math.prod(_int64(x) for x in a))


@func("div")
def _div(a, b):
    a, b = _int64(a), _int64(b)
    q = abs(a) // abs(b)  # Go's integer division truncates toward zero
    return q if (a >= 0) == (b >= 0) else -q


func("len")(lambda v: len(v))
func("join")(lambda sep, v: sep.join(go_str(x) for x in v))
func("eq")(lambda a, *b: any(a == x for x in b))
func("ne")(lambda a, b: a != b)
func("not")(lambda v: not truth(v))
func("and")(lambda *a: next((x for x in a if not truth(x)), a[-1]))
func("or")(lambda *a: next((x for x in a if truth(x)), a[-1]))


@func("printf")
def _printf(fmt, *args):
    args = list(args)

    def one(m):
        if m.group(0) == "%%":
            return "%"
        v = args.pop(0)
        return str(_int64(v)) if m.group(0) == "%d" else go_str(v)

    return re.sub(r"%[sdv%]", one, fmt)


def truth(v):
    return v not in (None, False, 0, "", [], {})


class Scope:
    def __init__(self, top):
        self.top = top
        self.vars = [{"$": top}]

    def get(self, name):
        for frame in reversed(self.vars):
            if name in frame:
                return frame[name]
        raise TemplateError(f"undefined variable {name}")

    def set(self, name, value):
        self.vars[-1][name] = value


def lookup(value, path, what):
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise TemplateError(f"{what}: no value")
        value = value[key]
    return value


def term(t, scope):
    if isinstance(t, tuple):
        return pipe(t[1], scope)
    if t.startswith('"'):
        return json.loads(t)
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    if t.startswith("$"):
        name, *path = t.split(".")
        return lookup(scope.get(name), path, t)
    if t == ".":
        return scope.top
    if t.startswith("."):
        return lookup(scope.top, t[1:].split("."), t)
    if t in ("true", "false"):
        return t == "true"
    if t in FUNCS:
        return FUNCS[t]()
    raise TemplateError(f"unknown name {t!r}")


def pipe(cmds, scope):
    value = None
    for i, cmd in enumerate(cmds):
        if not cmd:
            raise TemplateError("empty command in a pipeline")
        head = cmd[0]
        if isinstance(head, str) and head in FUNCS:
            args = [term(a, scope) for a in cmd[1:]]
            if i > 0:
                args.append(value)
            try:
                value = FUNCS[head](*args)
            except TypeError as e:
                raise TemplateError(f"{head}: {e}")
        else:
            if len(cmd) > 1 or i > 0:
                raise TemplateError(f"{cmd!r}: only functions take arguments")
            value = term(head, scope)
    return value


def execute(nodes, scope, out):
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "out":
            out.append(go_str(pipe(node[1], scope)))
        elif kind == "assign":
            scope.set(node[1], pipe(node[2], scope))
        elif kind == "if":
            execute(node[2] if truth(pipe(node[1], scope)) else node[3], scope, out)
        elif kind == "range":
            (iname, vname), src, body = node[1], node[2], node[3]
            items = pipe(src, scope)
            pairs = sorted(items.items()) if isinstance(items, dict) else enumerate(items or [])
            for i, v in pairs:
                scope.vars.append({})
                if iname:
                    scope.set(iname, i)
                scope.set(vname, v)
                execute(body, scope, out)
                scope.vars.pop()


def render_text(text, top):
    out = []
    execute(parse(tokenize(text)), Scope(top), out)
    return "".join(out)


# ---- the chart ---------------------------------------------------------------------


def merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


def render_chart(chart_dir, value_files=(), release="accord", namespace="default"):
    with open(os.path.join(chart_dir, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    with open(os.path.join(chart_dir, "values.yaml")) as f:
        values = yaml.safe_load(f) or {}
    for path in value_files:
        with open(path) as f:
            merge(values, yaml.safe_load(f) or {})
    top = {
        "Values": values,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm",
                    "IsInstall": True, "IsUpgrade": False, "Revision": 1},
        "Chart": {"Name": chart["name"], "Version": chart["version"],
                  "AppVersion": chart.get("appVersion", "")},
    }
    docs = []
    tdir = os.path.join(chart_dir, "templates")
    for name in sorted(os.listdir(tdir)):
        if not name.endswith((".yaml", ".yml")) or name.startswith("_"):
            continue
        with open(os.path.join(tdir, name)) as f:
            text = render_text(f.read(), top)
        for doc in re.split(r"(?m)^---[ \t]*$", text):
            body = doc.strip("\n")
            content = [l for l in body.splitlines() if l.strip() and not l.lstrip().startswith("#")]
            if not content:
                continue
            parsed = yaml.safe_load(body)
            if not isinstance(parsed, dict) or "kind" not in parsed:
                raise TemplateError(f"templates/{name}: a document without a kind")
            docs.append((parsed["kind"], f"{chart['name']}/templates/{name}", body.strip()))

    def order(doc):
        kind = doc[0]
        return (0, INSTALL_ORDER.index(kind), "") if kind in INSTALL_ORDER else (1, 0, kind)

    docs.sort(key=order)  # stable: template file order within a kind
    return "".join(f"---\n# Source: {source}\n{body}\n" for _, source, body in docs)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("chart", nargs="?", default=os.path.join(here, "accord"))
    p.add_argument("--values", "-f", action="append", default=[])
    p.add_argument("--release", default="accord")
    p.add_argument("--namespace", default="default")
    args = p.parse_args()
    try:
        sys.stdout.write(render_chart(args.chart, args.values, args.release, args.namespace))
    except TemplateError as e:
        sys.exit(f"render.py: {e}")


if __name__ == "__main__":
    main()
