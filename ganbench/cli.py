"""The ``ganbench`` command line: run, list, report, cite.

Every user mistake ends in one line ``ganbench: error: ...`` naming the accepted values or the
fix, and exit status 2; nothing written before is touched.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from ganbench import __version__
from ganbench.errors import UserError

EXIT_USAGE = 2
EXIT_FAILED_RUNS = 1
EXIT_INTERRUPTED = 130
DEFAULT_SUITE = "toy"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake prints one error line (not the whole usage) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _csv(text: str) -> list[str]:
    """``a, b`` -> ``["a", "b"]``; empty names are kept, for the request check to refuse."""
    return [part.strip() for part in text.split(",")]


def _jobs(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: give a positive number of processes, or auto")
    return jobs


def _shard(text: str) -> tuple[int, int]:
    number, _, count = text.partition("/")
    try:
        parsed = int(number), int(count)
    except ValueError:
        parsed = (0, 0)
    if not 1 <= parsed[0] <= parsed[1]:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: give I/N with 1 <= I <= N, e.g. 1/4")
    return parsed


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: give a positive whole number")
    return value


def build_parser() -> Parser:
    from ganbench.budgets import BUDGETS

    parser = Parser(
        prog="ganbench",
        description="Train and evaluate GAN variants and neural style transfer; write records, tables, plots, a report.",
    )
    parser.add_argument("--version", action="version", version=f"ganbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = commands.add_parser(
        "run",
        help="run a suite (default: the toy suite) and write its records, tables, plots and report",
        description="Run every (variant, dataset, seed) of a suite at a budget. Finished runs in --out are skipped, "
        "interrupted ones resume from their last checkpoint.",
    )
    run.add_argument("--suite", default=DEFAULT_SUITE, help=f"suite name (default: {DEFAULT_SUITE}; see `ganbench list suites`)")
    run.add_argument("--budget", choices=BUDGETS, help="training length: smoke (seconds), quick (minutes on a CPU), "
                     "equal (the CPU comparison: the same training images for every variant, 3 seeds), standard "
                     "(about an hour on a GPU), paper (published schedules); default: the suite's")
    run.add_argument("--iterations", type=int, help="generator iterations per run, replacing the budget's")
    run.add_argument("--time-limit", type=float, metavar="SECONDS",
                     help="stop each run's training after this many seconds (recorded as stopped_by: time_limit)")
    run.add_argument("--seeds", type=int, help="number of seeds, 0..N-1 (default: the suite's)")
    run.add_argument("--variants", type=_csv, help="comma-separated variants (default: the suite's)")
    run.add_argument("--datasets", type=_csv, help="comma-separated datasets (default: the suite's)")
    run.add_argument("--out", type=Path, help="output folder (default: runs/SUITE-BUDGET)")
    run.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N or mps, checked against what this "
                     "machine has (default: auto)")
    run.add_argument("--set", dest="assignments", action="append", default=[], metavar="[VARIANT.]KEY=VALUE",
                     help="override a setting, e.g. --set dcgan.lr_d=1e-4, --set n_critic=2, --set eval.samples=5000; "
                     "repeatable (see `ganbench list --settings VARIANT`)")
    run.add_argument("--data-root", help="folder holding the datasets (default: $GANBENCH_DATA, else ~/.cache/ganbench/data)")
    run.add_argument("--download", action="store_true", help="download missing datasets and Inception weights "
                     "(needs network access)")
    run.add_argument("--inception-weights", metavar="PATH", help="torch-fidelity's Inception weights file for the "
                     "inception backbone (default: the torch hub cache); same as --set eval.inception_weights=PATH")
    run.add_argument("--split", choices=("train", "test"), help="data split to train on (default: train; offline "
                     "machines with only the MNIST test set use --split test)")
    run.add_argument("--content", nargs="+", type=Path, metavar="PATH", help="style suites: content images (files, "
                     "folders, or scikit-image photos: astronaut, chelsea, coffee, rocket; default: the suite's)")
    run.add_argument("--style", nargs="+", type=Path, metavar="PATH", help="style suites: style images (files or "
                     "folders; default: the suite's paintings in DATA_ROOT/style)")
    run.add_argument("--vgg-weights", type=Path, metavar="PATH", help="style suites: torchvision VGG-16/19 ImageNet "
                     "weights file (default: the torch hub cache)")
    run.add_argument("--restart", action="store_true", help="ignore checkpoints and re-run runs that did not finish")
    run.add_argument("--keep-checkpoints", action="store_true",
                     help="keep the checkpoints of runs that ended (by default only unfinished runs keep them)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="show progress bars (default: when stderr is a terminal)")
    run.add_argument("--jobs", type=_jobs, default=None, metavar="N|auto",
                     help="run the cells in N worker processes (default auto: one per core on a CPU, 1 on a GPU; "
                     "$GANBENCH_JOBS overrides auto); results are the same as with --jobs 1")
    run.add_argument("--threads", type=_positive, default=1, metavar="N",
                     help="torch threads per run (default: 1, whatever --jobs); part of the run's configuration, "
                     "since the thread count changes the numbers")
    run.add_argument("--launcher", choices=("processes", "local", "slurm"), default="processes",
                     help="where cells run: processes (this machine, --jobs of them; default), slurm (one task per "
                     "cell of a job array, through submitit; the command waits and writes the tables) or local "
                     "(submitit's local executor: the slurm code path on this machine)")
    run.add_argument("--partition", help="--launcher slurm: the partition (default: the cluster's)")
    run.add_argument("--time", type=_positive, default=60, metavar="MINUTES",
                     help="--launcher slurm/local: wall-time limit per task in minutes (default: 60)")
    run.add_argument("--gpus-per-task", type=int, default=0, metavar="N",
                     help="--launcher slurm: GPUs per task (default: 0; with --device auto a task uses its GPU)")
    run.add_argument("--cpus-per-task", type=_positive, default=None, metavar="N",
                     help="--launcher slurm: CPUs per task (default: --threads)")
    run.add_argument("--array-parallelism", type=_positive, default=64, metavar="N",
                     help="--launcher slurm: most tasks of the array running at once (default: 64)")
    run.add_argument("--amp", nargs="?", const="bf16", choices=("bf16", "fp16"), metavar="bf16|fp16",
                     help="mixed precision: bf16 autocast (CPU and CUDA; the default of a bare --amp) or fp16 "
                     "autocast with a gradient scaler (CUDA); recorded in config.execution.precision")
    run.add_argument("--channels-last", action="store_true", help="image networks and batches in channels-last "
                     "(NHWC) memory format; recorded in config.execution")
    run.add_argument("--compile", action="store_true", help="compile the networks with torch.compile; recorded in "
                     "config.execution")
    run.add_argument("--nproc-per-node", type=_positive, default=1, metavar="N",
                     help="GAN suites: train each run data-parallel in N processes (ignite.distributed: gloo on a "
                     "CPU, nccl with one GPU each); the batch size stays the global batch; runs one cell at a time "
                     "(--jobs 1); recorded in config.execution.processes")
    run.add_argument("--shard", type=_shard, metavar="I/N",
                     help="run only shard I of N of the matrix (a fixed slice by run id), e.g. one per machine; "
                     "join the folders with `ganbench merge`")

    listing = commands.add_parser("list", help="list suites, variants, datasets, evaluators, backbones, losses, or "
                                  "settings",
                                  description="List what ganbench knows by name.")
    listing.add_argument("what", nargs="?", default="all",
                         choices=("all", "suites", "variants", "datasets", "evaluators", "metrics", "backbones",
                                  "losses", "budgets"))
    listing.add_argument("--settings", metavar="VARIANT|eval|style",
                         help="list the settings of a variant (or 'eval', or 'style' for style transfer, or a "
                         "style preset with --suite style)")
    listing.add_argument("--suite", help="with --settings: the values a run of this suite uses (its changes to the "
                         "defaults)")
    listing.add_argument("--budget", choices=BUDGETS, help="with --settings --suite: at this budget (default: the "
                         "suite's)")

    report = commands.add_parser("report", help="rewrite tables, plots and report.md of an output folder",
                                 description="Regenerate summary.csv/.md/.tex, plots/ and report.md from records.jsonl.")
    report.add_argument("out", type=Path, help="an output folder written by `ganbench run`")

    classifier = commands.add_parser("classifier", help="train the MNIST-family classifier of the lenet backbone",
                                     description="The classifier behind the lenet backbone and the classes/stacked "
                                     "metrics.")
    actions = classifier.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser, required=True)
    train = actions.add_parser("train", help="train a classifier and write its weights and metadata",
                               description="Train LeNet-5 on part of a split, measure its accuracy on the held-out "
                               "rest, and write PATH.pt with PATH.json (sha256, data, plan, held-out accuracy).")
    train.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist or kmnist (default: mnist)")
    train.add_argument("--data-root", help="folder holding the datasets (default: $GANBENCH_DATA, else "
                       "~/.cache/ganbench/data)")
    train.add_argument("--split", choices=("train", "test"), default="train", help="split to train and hold out on "
                       "(default: train; offline machines with only the MNIST test set use --split test)")
    train.add_argument("--download", action="store_true", help="download the dataset if missing")
    train.add_argument("--out", type=Path, metavar="PATH", help="weights file to write (default: "
                       "$GANBENCH_CACHE/classifiers/lenet-DATASET.pt, where evaluations look for it)")
    plan_defaults = "(default: the shipped classifier's, see docs/metrics.md)"
    train.add_argument("--epochs", type=int, default=argparse.SUPPRESS,
                       help=f"passes over the training part {plan_defaults}")
    train.add_argument("--held-out", type=int, default=argparse.SUPPRESS,
                       help=f"samples held out of training to measure accuracy {plan_defaults}")
    train.add_argument("--seed", type=int, default=argparse.SUPPRESS,
                       help=f"seed of the split, initial weights, batches and shifts {plan_defaults}")
    train.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="show a progress bar (default: when stderr is a terminal)")

    merge = commands.add_parser("merge", help="join output folders (e.g. of --shard runs) into one",
                                description="Copy the records and run folders of several output folders into one "
                                "and write its tables, plots and report. Identical records of one run id are "
                                "kept once; differing ones are an error naming both folders, and nothing is written.")
    merge.add_argument("sources", nargs="+", type=Path, metavar="DIR", help="output folders written by `ganbench run`")
    merge.add_argument("--out", type=Path, required=True, help="the folder to write (may be new, or hold records "
                       "already, which then take part in the check)")

    cite = commands.add_parser("cite", help="print the BibTeX entry for ganbench, or for a result folder",
                               description="Print how to cite ganbench; with DIR, how to cite the result set in DIR "
                               "(suite, budget, date, version, commit, machine and the sha256 digest of its records), "
                               "as its report.html shows it.")
    cite.add_argument("out", type=Path, nargs="?", metavar="DIR", help="an output folder written by `ganbench run`")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ganbench.builtins import register_builtins  # imported after parsing: `--help` needs no torch

    register_builtins()
    try:
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "run":
            return command_run(args)
        if args.command == "list":
            return command_list(args)
        if args.command == "report":
            return command_report(args)
        if args.command == "merge":
            return command_merge(args)
        if args.command == "classifier":
            return command_classifier(args)
        if args.command == "cite":
            return command_cite(args)
    except UserError as error:
        print(f"ganbench: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nganbench: interrupted; run the same command again to resume from the last checkpoints", file=sys.stderr)
        return EXIT_INTERRUPTED
    parser.error(f"unknown command {args.command}")


def _summary_line(label: str, record: dict[str, Any]) -> str:
    from ganbench.columns import table_columns

    head = f"{label}: {record['status']} in {record['elapsed_seconds']:.1f} s"
    if record["status"] != "finished":
        return f"{head} ({record.get('error', '')})"
    values = {**record.get("metrics", {}), **record.get("throughput", {})}
    shown = [f"{c.key}={values[c.key]:.{c.digits}{c.notation}}" for c in table_columns()
             if isinstance(values.get(c.key), (int, float))]
    return f"{head} | " + " ".join(shown)


def _wrote_line(root: Path, paths: Sequence[Path]) -> str:
    """``wrote N files in DIR: a, b, plots/ (k)``, naming only files that exist."""
    existing = [path for path in dict.fromkeys(paths) if path.is_file()]
    top = [path.relative_to(root).as_posix() for path in existing if path.parent == root]
    nested: dict[str, int] = {}
    for path in existing:
        if path.parent != root:
            folder = path.relative_to(root).parts[0] + "/"
            nested[folder] = nested.get(folder, 0) + 1
    names = top + [f"{folder} ({count} files)" for folder, count in nested.items()]
    return f"wrote {len(existing)} files in {root}: {', '.join(names)}"


def _modes(execution: Any) -> str:
    """``, 2 data-parallel processes, bf16, channels-last, compiled``: what differs from one fp32
    eager process, for the first line."""
    modes = [f"{execution.processes} data-parallel processes"] * (execution.processes > 1)
    modes += [execution.precision] if execution.precision != "fp32" else []
    modes += ["channels-last"] * execution.channels_last + ["compiled"] * execution.compile
    return "".join(f", {mode}" for mode in modes)


def torch_device_named(name: str) -> Any:
    """The device ``name`` names without checking this machine has it (``auto``: shown as is)."""
    import torch

    try:
        return torch.device("cpu") if name == "auto" else torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda") from None


def command_run(args: argparse.Namespace) -> int:
    import os
    from functools import partial

    from ganbench.report import write_outputs
    from ganbench.results import ResultsStore
    from ganbench.builtins import register_builtins
    from ganbench.runs import SUITES, Execution, RunRequest, cells_of, default_jobs, resolve_device, run_suite, shard
    from ganbench.settings import parse_assignments

    suite = SUITES.get(args.suite)
    budget = args.budget or suite.default_budget
    if args.launcher != "slurm" and (args.partition or args.gpus_per_task):
        raise UserError("--partition and --gpus-per-task are options of --launcher slurm")
    if args.gpus_per_task < 0:
        raise UserError(f"--gpus-per-task must be 0 or more, got {args.gpus_per_task}")
    # Cluster tasks resolve the device where they run (the submitting node may have no GPU).
    device = resolve_device(args.device) if args.launcher != "slurm" else torch_device_named(args.device)
    data_root = args.data_root or os.environ.get("GANBENCH_DATA")
    assignments = list(args.assignments)
    if args.inception_weights:
        assignments.append(f"eval.inception_weights={Path(args.inception_weights).expanduser().resolve()}")
    execution = Execution(threads=args.threads, precision=args.amp or "fp32", channels_last=args.channels_last,
                          compile=args.compile, processes=args.nproc_per_node)
    if args.nproc_per_node > 1 and (args.jobs or 1) > 1:
        raise UserError(f"--nproc-per-node {args.nproc_per_node} runs each cell in {args.nproc_per_node} processes, "
                        f"one cell at a time: leave out --jobs {args.jobs} (or give --jobs 1)")
    if args.launcher != "slurm":
        execution.check_device(device)
    kind_options = {"--datasets": args.datasets, "--split": args.split, "--content": args.content,
                    "--style": args.style, "--vgg-weights": args.vgg_weights}
    runs = suite.plan(RunRequest(
        budget=budget, seeds=args.seeds, variants=args.variants, overrides=parse_assignments(assignments),
        data_root=data_root, download=args.download, iterations=args.iterations, time_limit=args.time_limit,
        options={flag: value for flag, value in kind_options.items() if value is not None},
        execution=execution,
    ))
    cells = cells_of(runs)
    part = ""
    if args.shard:
        cells = shard(cells, *args.shard)
        part = f" (shard {args.shard[0]}/{args.shard[1]} of {len(runs)})"
    jobs = args.jobs or (1 if args.nproc_per_node > 1 else default_jobs(device))
    store = ResultsStore(args.out or Path("runs") / f"{suite.name}-{budget}")
    store.ensure_writable()
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    workers = f"{min(jobs, len(cells))} processes x " if min(jobs, len(cells)) > 1 else ""
    shown_device = args.device if args.launcher == "slurm" else device
    if args.launcher != "processes":
        workers = f"{args.launcher} tasks through submitit x "
    print(f"ganbench {__version__}: suite {suite.name}, budget {budget}, {len(cells)} runs{part} on {shown_device} "
          f"({workers}{args.threads} thread{'s' if args.threads > 1 else ''}{_modes(execution)}), writing to {store.root}")
    launcher = None
    if args.launcher != "processes":
        from ganbench.launch import ClusterOptions, SubmititLauncher

        options = ClusterOptions(args.launcher, store.root / "submitit", args.partition, args.time, args.gpus_per_task,
                                 args.cpus_per_task or args.threads, args.array_parallelism)
        launcher = partial(SubmititLauncher, options=options)
    records = run_suite(suite, cells, store, device, progress, args.restart, args.keep_checkpoints, _summary_line,
                        jobs=jobs, worker_init=register_builtins, launcher=launcher, device_name=args.device)
    written = write_outputs(store)
    print((store.root / "summary.md").read_text(), end="")
    print(_wrote_line(store.root, [store.records_path, *written]))
    failed = sum(record["status"] == "failed" for record in records)
    if failed:
        print(f"ganbench: {failed} run(s) failed; see error.txt in their run folders", file=sys.stderr)
        return EXIT_FAILED_RUNS
    return 0


def command_list(args: argparse.Namespace) -> int:
    from ganbench.data import DATASET_SUMMARIES
    from ganbench.gan.losses import LOSSES
    from ganbench.gan.model import VARIANTS
    from ganbench.metrics import EVALUATORS
    from ganbench.metrics.backbones import BACKBONES
    from ganbench.budgets import BUDGET_SUMMARIES, BUDGETS
    from ganbench.runs import SUITES

    if args.settings:
        return _list_settings(args.settings, args.suite, args.budget)
    if args.suite or args.budget:
        raise UserError("--suite and --budget go with --settings, e.g. "
                        "`ganbench list --settings dcgan --suite mnist --budget quick`")
    sections = {
        "suites": [(name, f"{s.summary} [{s.matrix()}; default budget {s.default_budget}"
                          + (f"; compare variants at budget {s.comparison_budget}"
                             if getattr(s, "comparison_budget", None) else "")
                          + f"; seeds {', '.join(f'{b} {s.budgets[b].seeds_or(s.seeds)}' for b in BUDGETS if b in s.budgets)}]")
                   for name, s in SUITES.items()],
        "variants": [(name, f"{v.summary} ({v.reference})") for name, v in VARIANTS.items()],
        "datasets": list(DATASET_SUMMARIES.items()),
        "evaluators": [(name, e.summary) for name, e in EVALUATORS.items()],
        "backbones": [(name, b.summary) for name, b in BACKBONES.items()],
        "losses": [(name, "") for name in LOSSES.names()],
        "budgets": [(name, BUDGET_SUMMARIES[name]) for name in BUDGETS],
    }
    chosen = "evaluators" if args.what == "metrics" else args.what
    for section, rows in sections.items():
        if chosen not in ("all", section):
            continue
        print(f"{section}:")
        for name, summary in rows:
            print(f"  {name:<16} {summary}".rstrip())
    return 0


def _list_settings(scope: str, suite_name: str | None, budget: str | None) -> int:
    """Print a scope's settings: its defaults, or (with a suite) what that suite's runs use."""
    from ganbench.gan.model import VARIANTS
    from ganbench.metrics import EVALUATION_SETTINGS
    from ganbench.runs import SUITES
    from ganbench.style import STYLE_SCOPE, STYLE_SETTINGS

    if suite_name is None:
        if budget is not None:
            raise UserError("--budget needs --suite: the settings of a budget are the suite's, e.g. "
                            f"`ganbench list --settings {scope} --suite mnist --budget {budget}`")
        schemas = {"eval": EVALUATION_SETTINGS, STYLE_SCOPE: STYLE_SETTINGS}
        schema = schemas[scope] if scope in schemas else VARIANTS.get(scope).settings
        values = {name: setting.default for name, setting in schema.items()}
        print(f"settings of {scope}, defaults before any suite or budget changes them "
              f"(override with --set {scope}.KEY=VALUE):")
    else:
        suite = SUITES.get(suite_name)
        budget = budget or suite.default_budget
        schema, values = suite.resolved_settings(scope, budget)
        plan = suite.budgets[budget]
        iterations = suite.iterations(scope, budget, values) if scope in VARIANTS else plan.iterations_for()
        length = "" if scope in ("eval", STYLE_SCOPE) else f", {iterations:,} iterations"
        print(f"settings of {scope} in suite {suite.name} at budget {budget} "
              f"({plan.seeds_or(suite.seeds)} seeds{length}; override with --set {scope}.KEY=VALUE):")
    for name, setting in schema.items():
        value = values[name]
        shown = "none" if value is None else (",".join(map(str, value)) if isinstance(value, tuple) else value)
        changed = " *" if suite_name is not None and value != setting.default else ""
        print(f"  {name:<18} {str(shown) + changed:<14} {setting.help}")
    if suite_name is not None:
        print("  (* differs from the default)")
    return 0


def command_classifier(args: argparse.Namespace) -> int:
    import os

    from ganbench.data import DataOptions, load_dataset
    from ganbench.data.images import MNIST_LIKE
    from ganbench.metrics.backbones import cache_dir, classifier_path
    from ganbench.metrics.classifier import (
        INPUT_SIZE,
        TrainingPlan,
        metadata_path,
        save_classifier,
        train_classifier,
        training_metadata,
    )
    from ganbench.provenance import software
    from ganbench.results import ResultsStore

    if args.dataset not in MNIST_LIKE:
        raise UserError(f"no classifier for dataset {args.dataset!r}; choose one of: {', '.join(MNIST_LIKE)}")
    plan = TrainingPlan(**{key: getattr(args, key) for key in ("epochs", "held_out", "seed") if hasattr(args, key)})
    if plan.epochs < 1:
        raise UserError(f"--epochs must be a positive number of passes, got {plan.epochs}")
    out = (args.out or cache_dir("classifiers") / f"lenet-{args.dataset}.pt").expanduser()
    ResultsStore(out.parent).ensure_writable()
    options = DataOptions(data_root=args.data_root or os.environ.get("GANBENCH_DATA"), split=args.split,
                          download=args.download, image_size=INPUT_SIZE)
    dataset = load_dataset(args.dataset, options)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    model, facts = train_classifier(dataset, plan, progress)
    metadata = save_classifier(model, out, training_metadata(dataset, plan, facts, software()["command"]))
    print(f"{args.dataset} ({args.split} split): held-out accuracy {metadata['held_out_accuracy']:.4f} on "
          f"{metadata['held_out_samples']:,} images never trained on (trained on {metadata['train_samples']:,} for "
          f"{plan.epochs} epochs in {metadata['training_seconds']:.0f} s)")
    print(f"wrote {out} (sha256 {metadata['weights_sha256']}) and {metadata_path(out).name}")
    used = classifier_path(args.dataset)
    if used.resolve() != out.resolve():
        print(f"evaluations of {args.dataset} use {used}; add --set eval.classifier_weights={out} to use this one")
    return 0


def command_report(args: argparse.Namespace) -> int:
    from ganbench.report import write_outputs
    from ganbench.results import ResultsStore

    store = ResultsStore(args.out)
    if not store.records_path.exists():
        raise UserError(f"{store.records_path} does not exist; give a folder written by `ganbench run --out DIR`")
    store.records()  # checked before anything is written
    store.remove_stale_temporaries()
    written = write_outputs(store)
    print((store.root / "summary.md").read_text(), end="")
    print(_wrote_line(store.root, written))
    return 0


def command_cite(args: argparse.Namespace) -> int:
    from ganbench.citation import citation_text, result_citation
    from ganbench.results import ResultsStore

    if args.out is None:
        print(citation_text(), end="")
        return 0
    store = ResultsStore(args.out)
    if not store.records_path.exists():
        raise UserError(f"{store.records_path} does not exist; give a folder written by `ganbench run --out DIR`")
    records = store.records()
    if not records:
        raise UserError(f"{store.records_path} holds no runs; run the suite first, then cite its folder")
    print(result_citation(records), end="")
    return 0


def command_merge(args: argparse.Namespace) -> int:
    from ganbench.report import write_outputs
    from ganbench.results import ResultsStore, merge_stores

    sources = []
    for folder in args.sources:
        source = ResultsStore(folder)
        if not source.records_path.exists() and not (folder / "runs").is_dir():
            raise UserError(f"{folder} holds no records; give folders written by `ganbench run --out DIR`")
        sources.append(source)
    store = ResultsStore(args.out)
    added = merge_stores(sources, store)
    written = write_outputs(store)
    print((store.root / "summary.md").read_text(), end="")
    print(f"merged {added} records from {len(sources)} folders")
    print(_wrote_line(store.root, [store.records_path, *written]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
