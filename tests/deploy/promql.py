"""Just enough PromQL reading to list the metrics, labels and functions a query uses.

Not a parser: a tokenizer that knows which identifiers are functions,
aggregations and keywords, so every other bare identifier is a metric name.
``promtool`` checks the syntax; this checks the names against what the
service exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FUNCTIONS = frozenset({
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg_over_time",
    "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv", "exp", "floor", "histogram_avg",
    "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev", "histogram_stdvar",
    "histogram_sum", "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace",
    "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time", "min_over_time", "minute",
    "month", "pi", "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets",
    "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc",
    "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp",
    "vector", "year",
})
AGGREGATIONS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
})
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
OTHER_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})

GRAFANA_INTERVALS = re.compile(r"\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}")

TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<duration>\d+(?:ms|s|m|h|d|w|y)\b)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<matchop>=~|!~|!=|==|=)
  | (?P<punct>[{}(),])
  | (?P<op>[-+*/%^<>]=?|@)
  | (?P<space>\s+)
  | (?P<variable>\$\w+|\$\{[^}]*\})
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass
class Selector:
    metric: str
    matchers: list[Matcher] = field(default_factory=list)


@dataclass
class QueryNames:
    selectors: list[Selector] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    grouping_labels: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # unknown function names, template variables

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.selectors}


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        match = TOKEN.match(expr, pos)
        if match is None:
            raise ValueError(f"cannot read PromQL at {expr[pos:pos + 20]!r} in {expr!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append((kind, match.group()))
        pos = match.end()
    return out


def _unquote(text: str) -> str:
    return text[1:-1].encode().decode("unicode_escape") if text[0] in "\"'" else text[1:-1]


def read_query(expr: str, interval: str = "5m") -> QueryNames:
    """The metric selectors, functions and grouping labels of one PromQL expression."""
    names = QueryNames()
    tokens = _tokens(GRAFANA_INTERVALS.sub(interval, expr))
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "variable":
            names.unknown.append(text)
        elif kind == "ident" and text in LABEL_LIST_KEYWORDS:
            if following[1] == "(":
                i += 2
                while i < len(tokens) and tokens[i][1] != ")":
                    if tokens[i][0] == "ident":
                        names.grouping_labels.append(tokens[i][1])
                    i += 1
        elif kind == "ident" and (text in AGGREGATIONS or text in OTHER_KEYWORDS):
            pass
        elif kind == "ident" and following[1] == "(":
            (names.functions if text in FUNCTIONS else names.unknown).append(text)
        elif kind == "ident" or (kind == "punct" and text == "{"):
            selector = Selector(metric=text if kind == "ident" else "")
            if kind == "ident":
                i += 1
            if i < len(tokens) and tokens[i][1] == "{":
                i += 1
                while i < len(tokens) and tokens[i][1] != "}":
                    if tokens[i][0] == "ident" and i + 2 < len(tokens) and tokens[i + 1][0] == "matchop":
                        selector.matchers.append(Matcher(tokens[i][1], tokens[i + 1][1], _unquote(tokens[i + 2][1])))
                        i += 3
                    else:
                        i += 1
            else:
                i -= 1
            for matcher in selector.matchers:
                if matcher.label == "__name__" and matcher.op == "=":
                    selector.metric = matcher.value
            names.selectors.append(selector)
        i += 1
    return names


def plain_alternatives(matcher: Matcher) -> list[str] | None:
    """The literal values a ``=`` / ``=~`` matcher asks for, or None for a real pattern."""
    if matcher.op == "=":
        return [matcher.value]
    if matcher.op == "=~" and re.fullmatch(r"[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*", matcher.value):
        return matcher.value.split("|")
    return None
