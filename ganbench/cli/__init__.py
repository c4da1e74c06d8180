"""The ``ganbench`` command line.

Commands: ``run`` (run a suite and write its records, tables, plots and report), ``list`` (suites,
variants, datasets, evaluators, backbones, losses, budgets, or the settings of a variant),
``report`` (rewrite the tables, plots and report of an output folder), ``merge`` (join output
folders, e.g. of ``--shard`` runs, into one), ``classifier train`` (train the classifier of the
lenet backbone) and ``cite`` (BibTeX for ganbench or a result folder).

The options of ``run`` are built from their declarations (:class:`ganbench.options.Option`): the
request's (:mod:`ganbench.runs`), how runs compute (:mod:`ganbench.execution`), where cells run
(:mod:`ganbench.launch`, :mod:`ganbench.cluster`) and each registered suite kind's own, so a new kind adds its options
here without a line of this module. Messages name options by name; this module writes them as
flags (:data:`FLAGS`).

Every user mistake ends in one line ``ganbench: error: ...`` naming the accepted values or the
fix, and exit status 2; nothing written before is touched.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench import __version__
from ganbench.cli.commands import add_commands, wrote_line
from ganbench.cli.parsing import EXIT_USAGE, FLAGS, Parser, flag
from ganbench.errors import UserError, render
from ganbench.options import Option, OptionValueError, comma_list

__all__ = ["EXIT_USAGE", "FLAGS", "RunOutcome", "build_parser", "main", "run_values"]

EXIT_FAILED_RUNS = 1
EXIT_INTERRUPTED = 130
GROUPS = {"run": "run options", "data": "data options", "performance": "performance options",
          "cluster": "cluster options"}


def _typed(parse: Callable[[str], Any] | None) -> Callable[[str], Any] | None:
    """``parse`` for argparse: its :class:`OptionValueError` message becomes argparse's (``argument
    --jobs: invalid value '0': ...``); any other ``ValueError`` reads ``invalid int value: 'x'``."""
    if parse is None:
        return None

    @functools.wraps(parse)
    def typed(text: str) -> Any:
        try:
            return parse(text)
        except OptionValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return typed


def add_option(group: Any, declaration: Option) -> None:
    """``declaration`` as an argparse option of ``group`` (its value under the option's name)."""
    settings: dict[str, Any] = {"dest": declaration.name, "help": render(declaration.help, FLAGS)}
    if declaration.given == "switch":
        settings.update(action="store_true", default=bool(declaration.default))
    elif declaration.given == "toggle":
        settings.update(action=argparse.BooleanOptionalAction, default=declaration.default)
    else:
        settings.update(type=comma_list if declaration.given == "list" else _typed(declaration.parse),
                        default=declaration.default, metavar=declaration.metavar, choices=declaration.choices)
        if declaration.given == "paths":
            settings["nargs"] = "+"
        elif declaration.given == "optional":
            settings.update(nargs="?", const=declaration.const)
        elif declaration.given == "repeated":
            settings.update(action="append", default=list(declaration.default or []))
    group.add_argument(flag(declaration.name), **settings)


def add_run_options(run: argparse.ArgumentParser) -> None:
    """The options of ``run``: the shared ones by group, then one group per registered suite kind."""
    from ganbench.cluster import CLUSTER_OPTIONS
    from ganbench.execution import EXECUTION_OPTIONS
    from ganbench.launch import LAUNCH_OPTIONS
    from ganbench.runs import REQUEST_OPTIONS, kind_options

    shared = (*REQUEST_OPTIONS, *EXECUTION_OPTIONS, *LAUNCH_OPTIONS, *CLUSTER_OPTIONS)
    groups = {key: run.add_argument_group(title) for key, title in GROUPS.items()}
    for group in GROUPS:
        for declaration in shared:
            if declaration.group == group:
                add_option(groups[group], declaration)
    kinds: dict[str, Any] = {}
    for kind, declaration in kind_options().values():
        if kind not in kinds:
            kinds[kind] = run.add_argument_group(f"{kind} suites")
        add_option(kinds[kind], declaration)


def build_parser(run_options: bool = True) -> Parser:
    """The parser of every command; ``run``'s options (which need the kinds registered, and torch)
    only with ``run_options``."""
    parser = Parser(
        prog="ganbench",
        description="Train and evaluate GAN variants and neural style transfer; "
                    "write records, tables, plots, a report.",
    )
    parser.add_argument("--version", action="version", version=f"ganbench {__version__}")
    parser.add_argument("--plugin", action="append", default=[], metavar="PATH.py|MODULE",
                        help="load a plugin that is not installed (a file or module defining register(registries); "
                        "see docs/plugins.md); repeatable. Installed plugins always load")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    run = commands.add_parser(
        "run",
        help="run a suite (default: the toy suite) and write its records, tables, plots and report",
        description="Run every (variant, dataset, seed) of a suite at a budget. Finished runs in --out are skipped, "
        "interrupted ones resume from their last checkpoint.",
    )
    run.set_defaults(func=command_run)
    if run_options:
        add_run_options(run)
    add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((argument for index, argument in enumerate(arguments) if not argument.startswith("-")
                    and (index == 0 or arguments[index - 1] != "--plugin")), None)
    if command is not None:  # `ganbench --help` and `--version` need no torch
        from ganbench.builtins import register_builtins

        register_builtins()
    parser = build_parser(run_options=command is not None)
    args = parser.parse_args(arguments)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        from ganbench.plugins import load_plugins

        load_plugins(tuple(args.plugin))
        return args.func(args)
    except UserError as error:
        print(f"ganbench: error: {error.render(FLAGS)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nganbench: interrupted; run the same command again to resume from the last checkpoints",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def _summary_line(label: str, record: dict[str, Any]) -> str:
    from ganbench.columns import table_columns

    elapsed = record.get("elapsed_seconds")  # none when the process running it died
    head = f"{label}: {record['status']}" + ("" if elapsed is None else f" in {elapsed:.1f} s")
    if record["status"] != "finished":
        return f"{head} ({record.get('error', '')})"
    values = {**record.get("metrics", {}), **record.get("throughput", {})}
    shown = [f"{c.key}={values[c.key]:.{c.digits}{c.notation}}" for c in table_columns()
             if isinstance(values.get(c.key), (int, float))]
    return f"{head} | " + " ".join(shown)


def _modes(execution: Any) -> str:
    """``, 2 data-parallel processes, bf16, channels-last, compiled``: what differs from one fp32
    eager process, for the first line."""
    modes = [f"{execution.processes} data-parallel processes"] * (execution.processes > 1)
    modes += [execution.precision] if execution.precision != "fp32" else []
    modes += ["channels-last"] * execution.channels_last + ["compiled"] * execution.compile
    modes += ["SyncBatchNorm"] * execution.sync_batchnorm
    return "".join(f", {mode}" for mode in modes)


def torch_device_named(name: str) -> Any:
    """The device ``name`` names without checking this machine has it (``auto``: shown as is)."""
    import torch

    try:
        return torch.device("cpu") if name == "auto" else torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda") from None


def command_run(args: argparse.Namespace) -> int:
    outcome = run_values(vars(args), tuple(args.plugin), print)
    if outcome.followed:  # a rank above 0 of a torchrun/srun group: rank 0 reports
        return 0
    store = outcome.store
    print((store.root / "summary.md").read_text(), end="")
    print(wrote_line(store.root, [store.records_path, *outcome.written]))
    failed = sum(record["status"] == "failed" for record in outcome.records)
    if failed:
        print(f"ganbench: {failed} run(s) failed; see error.txt in their run folders", file=sys.stderr)
        return EXIT_FAILED_RUNS
    return 0


@dataclass(frozen=True)
class RunOutcome:
    """What :func:`run_values` did: the output folder's :class:`~ganbench.results.ResultsStore`,
    the records this call made, the files :func:`~ganbench.report.write_outputs` wrote, and the run
    ids of every cell asked for (recorded now or before), in matrix order. ``followed``: this process
    was a rank above 0 of a group started by torchrun or srun, which trained what rank 0 ran
    (rank 0 records and writes)."""

    store: Any
    records: list[dict[str, Any]]
    written: list[Path]
    run_ids: tuple[str, ...]
    followed: bool = False


def run_values(values: dict[str, Any], plugins: tuple[str, ...], echo: Callable[[str], None]) -> RunOutcome:
    """What ``ganbench run`` does, for every front end: plan the suite's runs from option
    ``values`` (by option name, every option present), run them and write the folder's tables,
    plots and report; ``echo`` gets the first line. ``plugins`` (PATH.py or MODULE, loaded already)
    are loaded again in every process that runs cells.

    Returns:
        What was done (:class:`RunOutcome`).

    Raises:
        UserError: a bad name or value, before anything is written.
    """
    from ganbench.distributed import launched_group
    from ganbench.execution import execution_from, jobs_from, resolve_device
    from ganbench.cluster import check_cluster_options, cluster_launcher
    from ganbench.launch import LaunchOptions, run_suite
    from ganbench.plugins import register_all
    from ganbench.report import write_outputs
    from ganbench.results import ResultsStore
    from ganbench.runs import SUITES, cells_of, request_from, shard

    suite = SUITES.get(values["suite"])
    budget = values["budget"] or suite.default_budget
    check_cluster_options(values)
    launcher = values["launcher"]
    # Cluster tasks resolve the device where they run (the submitting node may have no GPU).
    device = resolve_device(values["device"]) if launcher != "slurm" else torch_device_named(values["device"])
    execution = execution_from(values)
    if launcher != "slurm":
        execution.check_device(device)
    runs = suite.plan(request_from(values, budget, execution))
    cells = cells_of(runs)
    part = ""
    if values["shard"]:
        cells = shard(cells, *values["shard"])
        part = f" (shard {values['shard'][0]}/{values['shard'][1]} of {len(runs)})"
    jobs = jobs_from(values, device)
    store = ResultsStore(values["out"] or Path("runs") / f"{suite.name}-{budget}")
    store.ensure_writable()
    progress = sys.stderr.isatty() if values["progress"] is None else values["progress"]
    threads = values["threads"]
    workers = f"{min(jobs, len(cells))} processes x " if min(jobs, len(cells)) > 1 else ""
    shown_device = values["device"] if launcher == "slurm" else device
    if launcher != "processes":
        workers = f"{launcher} tasks through submitit x "
    with launched_group(device, execution.timeout_minutes) as group:  # torchrun/srun: one group, every node
        if group is not None and group.rank > 0:
            group.follow()
            return RunOutcome(store, [], [], tuple(cell.run.run_id for cell in cells), followed=True)
        planned = f"{len(cells)} run{'' if len(cells) == 1 else 's'}"
        echo(f"ganbench {__version__}: suite {suite.name}, budget {budget}, {planned}{part} on "
             f"{shown_device} ({workers}{threads} thread{'s' if threads > 1 else ''}{_modes(execution)}), "
             f"writing to {store.root}")
        records = run_suite(suite, cells, store, device, LaunchOptions(
            progress=progress, restart=values["restart"], keep_checkpoints=values["keep_checkpoints"], jobs=jobs,
            worker_init=functools.partial(register_all, plugins),
            launcher=cluster_launcher(values, store.root / "submitit"),
            device_name=values["device"], summary_line=_summary_line))
    return RunOutcome(store, records, write_outputs(store), tuple(cell.run.run_id for cell in cells))


if __name__ == "__main__":
    raise SystemExit(main())
