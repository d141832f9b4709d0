"""Markdown tables of medians, every run's figure, and ratios.

A scenario collects `figures[server][key]`, one value per run, and names its columns as
Column(key, heading, digits, ratio=True). The table has, per column, the median, the runs, and
the ratio of the median to the reference server's (for a column with ratio=False, such as lost
lines, none); below it, ringd's ratio to each other server."""
import statistics
from collections import namedtuple

Column = namedtuple("Column", "key heading digits ratio", defaults=(True,))


def median(values):
    return statistics.median(values)


def ratio(value, reference):
    return f"{value / reference:.2f}x" if reference else "-"


def print_table(figures, servers, columns, reference=None):
    """reference: the server the ratios are against (uring_server when it ran, else the last)."""
    if reference not in servers:
        reference = "uring_server" if "uring_server" in servers else servers[-1]
    heading = "| server |" + "".join(f" median {column.heading} | runs | vs {reference} |" for column in columns)
    print(heading)
    print("|---|" + "---|---|---|" * len(columns))
    for name in servers:
        cells = []
        for column in columns:
            values = figures[name][column.key]
            runs = ", ".join(f"{value:.{column.digits}f}" for value in values)
            reference_median = median(figures[reference][column.key]) if column.ratio else None
            cells.append(f" {median(values):.{column.digits}f} | {runs} | {ratio(median(values), reference_median)} |")
        print(f"| {name} |" + "".join(cells))
    print_ratios(figures, servers, columns)


def print_ratios(figures, servers, columns, subject="ringd"):
    """One line per column: ringd's median against each other server's, e.g.
    `ringd, server CPU us per request: 0.95x uring_server, 0.80x nio`."""
    others = [name for name in servers if name != subject]
    if subject not in servers or not others:
        return
    print()
    for column in (column for column in columns if column.ratio):
        mine = median(figures[subject][column.key])
        against = ", ".join(f"{ratio(mine, median(figures[name][column.key]))} {name}" for name in others)
        print(f"- {subject}, {column.heading}: {against}")
