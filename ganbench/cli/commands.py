"""The commands of ``ganbench`` other than ``run``: list, report, merge, classifier train, cite, verify."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganbench.cli.parsing import FLAGS, Parser
from ganbench.errors import UserError, render


def add_commands(commands: Any) -> None:
    """The parsers of every command but ``run``, each with its function (``func``)."""
    _add_list(commands)
    report = commands.add_parser("report", help="rewrite tables, plots and report.md of an output folder",
                                 description="Regenerate summary.csv/.md/.tex, plots/ and report.md "
                                             "from records.jsonl.")
    report.add_argument("out", type=Path, help="an output folder written by `ganbench run`")
    report.set_defaults(func=command_report)
    _add_classifier(commands)
    merge = commands.add_parser("merge", help="join output folders (e.g. of --shard runs) into one",
                                description="Copy the records and run folders of several output folders into one "
                                "and write its tables, plots and report. Identical records of one run id are "
                                "kept once; differing ones are an error naming both folders, and nothing is written.")
    merge.add_argument("sources", nargs="+", type=Path, metavar="DIR", help="output folders written by `ganbench run`")
    merge.add_argument("--out", type=Path, required=True, help="the folder to write (may be new, or hold records "
                       "already, which then take part in the check)")
    merge.set_defaults(func=command_merge)
    _add_evaluate(commands)
    cite = commands.add_parser("cite", help="print the BibTeX entry for ganbench, or for a result folder",
                               description="Print how to cite ganbench; with DIR, how to cite the result set in DIR "
                               "(suite, budget, date, version, commit, machine and the sha256 digest of its records), "
                               "as its report.html shows it.")
    cite.add_argument("out", type=Path, nargs="?", metavar="DIR", help="an output folder written by `ganbench run`")
    cite.set_defaults(func=command_cite)
    verify = commands.add_parser("verify", help="known-answer checks of the metrics on this installation",
                                 description="Compare ganbench's metrics with answers known independently (closed "
                                 "forms, the prdc package, PacGAN's mode statistics, torch-fidelity, published "
                                 "values); print check, expected, got, tolerance, pass; exit 1 when a check fails. "
                                 "Checks that need absent data or weights are skipped, with the reason.")
    verify.add_argument("--data-root", type=Path, metavar="DIR", help="folder holding the datasets (default: "
                        "$GANBENCH_DATA, else ~/.cache/ganbench/data); MNIST's test split for the lenet check")
    verify.set_defaults(func=command_verify)


def _add_list(commands: Any) -> None:
    from ganbench.budgets import BUDGETS

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
    listing.set_defaults(func=command_list)


def _add_evaluate(commands: Any) -> None:
    from ganbench.cli import add_option
    from ganbench.evaluation import EVALUATE_OPTIONS

    evaluate = commands.add_parser("evaluate", help="evaluate samples or a generator of a model trained elsewhere",
                                   description="Evaluate sample sets (folders of PNG/JPEG, .npy/.npz arrays), or the "
                                   "samples a generator (a Python callable or a TorchScript file) draws at each seed, "
                                   "against a reference dataset with ganbench's evaluators and write one record each, "
                                   "in the layout of `ganbench run`, then the folder's tables and report.")
    groups = {"run": evaluate.add_argument_group("evaluate options"),
              "data": evaluate.add_argument_group("data options")}
    for declaration in EVALUATE_OPTIONS:
        add_option(groups[declaration.group], declaration)
    evaluate.set_defaults(func=command_evaluate)


def _add_classifier(commands: Any) -> None:
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
    train.set_defaults(func=command_classifier)


def command_list(args: argparse.Namespace) -> int:
    from ganbench.data import DATASET_SUMMARIES
    from ganbench.gan.losses import LOSSES
    from ganbench.gan.model import VARIANTS
    from ganbench.metrics import EVALUATORS
    from ganbench.metrics.backbones import BACKBONES
    from ganbench.budgets import BUDGET_SUMMARIES, BUDGETS
    from ganbench.data import DATASETS
    from ganbench.plugins import origin_text
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
                          + f"; seeds "
                            f"{', '.join(f'{b} {s.budgets[b].seeds_or(s.seeds)}' for b in BUDGETS if b in s.budgets)}]")
                   for name, s in SUITES.items()],
        "variants": [(name, f"{v.summary} ({v.reference}){origin_text(VARIANTS.origin(name))}")
                     for name, v in VARIANTS.items()],
        "datasets": [(name, summary + origin_text(DATASETS.origin(name) if name in DATASETS else None))
                     for name, summary in DATASET_SUMMARIES.items()],
        "evaluators": [(name, e.summary + origin_text(EVALUATORS.origin(name))) for name, e in EVALUATORS.items()],
        "backbones": [(name, b.summary + origin_text(BACKBONES.origin(name))) for name, b in BACKBONES.items()],
        "losses": [(name, origin_text(LOSSES.origin(name)).strip()) for name in LOSSES.names()],
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
        print(f"  {name:<18} {str(shown) + changed:<14} {render(setting.help, FLAGS)}")
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
    if not store.has_records():
        raise UserError(f"{store.records_path} does not exist; give a folder written by `ganbench run --out DIR`")
    store.records()  # checked before anything is written
    store.remove_stale_temporaries()
    store.export()  # the records of tasks and commands that ended before exporting them
    written = [store.records_path, *write_outputs(store)]
    print((store.root / "summary.md").read_text(), end="")
    print(wrote_line(store.root, written))
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    from ganbench.evaluation import evaluate_samples, request_from
    from ganbench.report import write_outputs
    from ganbench.results import ResultsStore

    records = evaluate_samples(request_from(vars(args)))
    for record in records:
        card = record["provenance"]["samples"]
        print(_evaluation_line(record, card))
    store = ResultsStore(args.out)
    written = write_outputs(store)
    print((store.root / "summary.md").read_text(), end="")
    print(wrote_line(store.root, [store.records_path, *written]))
    return 0


def _evaluation_line(record: dict[str, Any], card: dict[str, Any]) -> str:
    """``mymodel seed 0: a.npy (200 of 200, [-1, 1] NCHW) | fid=... precision=...``."""
    from ganbench.columns import table_columns

    values = record["metrics"]
    shown = [f"{c.key}={values[c.key]:.{c.digits}{c.notation}}" for c in table_columns()
             if isinstance(values.get(c.key), (int, float))]
    return (f"{record['variant']} seed {record['seed']}: {card['name']} ({card['evaluated']} of {card['available']}, "
            f"{card['value_range']} {card['layout']}) | " + " ".join(shown))


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
    print(wrote_line(store.root, [store.records_path, *written]))
    return 0


def wrote_line(root: Path, paths: Sequence[Path]) -> str:
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


def command_verify(args: argparse.Namespace) -> int:
    import os

    from ganbench.verify import verify

    if args.data_root is not None and not args.data_root.is_dir():
        raise UserError(f"--data-root {args.data_root} is not a folder; give the folder holding the datasets")
    return verify(args.data_root or os.environ.get("GANBENCH_DATA"))
