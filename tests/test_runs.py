"""The kind-neutral run lifecycle with a fake kind: a trivial engine (a counter) is planned, run,
recorded, skipped when recorded, resumed from its checkpoint after an interrupt, and failures and
divergence end in the statuses the records promise."""

import os
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pytest
import torch
from ignite.engine import Engine, Events

from ganbench.errors import UserError
from ganbench.handlers import LossHistory
from ganbench.results import ResultsStore
from ganbench.budgets import Budget
from ganbench.engines import EngineRun, RunCell
from ganbench.execution import Execution
from ganbench.launch import run_suite
from ganbench.options import Option
from ganbench.runs import RunContext, RunRequest, check_request, run_id_for

CPU = torch.device("cpu")


class Counter(torch.nn.Module):
    """The fake kind's model: one number, incremented by each step."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("total", torch.zeros(()))


@dataclass(frozen=True)
class CountRun:
    suite: str
    step: float
    seed: int
    iterations: int
    fail_at: int | None = None
    interrupt_at: int | None = None
    execution: Execution = Execution()

    @property
    def identity(self) -> dict[str, Any]:
        return {"kind": "count", "suite": self.suite, "variant": "counter", "dataset": f"step{self.step:g}",
                "seed": self.seed, "budget": "smoke"}

    def config(self) -> dict[str, Any]:
        return {"step": self.step, "seed": self.seed, "iterations": self.iterations}

    @property
    def run_id(self) -> str:
        return run_id_for("counter", f"step{self.step:g}", self.seed, "smoke", self.config())

    @property
    def label(self) -> str:
        return f"counter step {self.step:g} seed {self.seed}"

    def work(self, context: RunContext) -> dict[str, Any]:
        counter = Counter()

        def step(engine: Engine, _: None) -> dict[str, float]:
            if engine.state.iteration == self.fail_at:
                raise RuntimeError("the fake step broke")
            counter.total += self.step
            return {"total": float(counter.total)}

        engine = Engine(step)
        history = LossHistory(lambda e: {"iteration": e.state.iteration, **e.state.output})
        lifecycle = EngineRun(engine, history, {"counter": counter}, context.run_dir, CPU, self.iterations,
                              checkpoint_every=2)
        if self.interrupt_at is not None:
            engine.add_event_handler(Events.ITERATION_COMPLETED(once=self.interrupt_at), self.interrupt)
        lifecycle.run()
        outcome = lifecycle.outcome({"losses": lifecycle.write_losses()})
        outcome.setdefault("status", "finished")
        outcome["metrics"] = {"total": float(counter.total), "logged": history.length}
        return outcome

    @staticmethod
    def interrupt(engine: Engine) -> None:
        raise KeyboardInterrupt


@dataclass(frozen=True)
class CountSuite:
    name: str = "count"
    kind: str = "count"
    summary: str = "a counter"
    seeds: int = 2
    budgets: Any = None
    default_budget: str = "smoke"
    options: tuple[Option, ...] = (Option("step", "what each iteration adds (default: 1)", parse=float),)

    def plan(self, request: RunRequest) -> list[CountRun]:
        check_request(self, request)
        step = float(request.options.get("step", 1))
        return [CountRun(self.name, step, seed, request.iterations or 6) for seed in range(request.seeds or self.seeds)]


SUITE = CountSuite(budgets={"smoke": Budget(iterations=6)})


def test_a_fake_kind_is_planned_run_and_recorded(tmp_path):
    store = ResultsStore(tmp_path)
    runs = SUITE.plan(RunRequest(budget="smoke", options={"step": 2}))
    records = run_suite(SUITE, runs, store, CPU)
    assert [r["status"] for r in records] == ["finished", "finished"]
    assert [r["metrics"] for r in records] == [{"total": 12.0, "logged": 6}] * 2
    stored = store.records()
    assert [r["run_id"] for r in stored] == [run.run_id for run in runs]
    for record in stored:
        assert record["kind"] == "count" and record["variant"] == "counter" and record["dataset"] == "step2"
        assert record["config"]["step"] == 2 and record["iterations_done"] == 6
        assert {"torch", "device", "started_utc", "finished_utc"} <= record["provenance"].keys()
        assert not (tmp_path / "runs" / record["run_id"] / "checkpoints").exists()  # ended: checkpoints gone
    assert run_suite(SUITE, runs, store, CPU) == []  # recorded runs are skipped


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    store = ResultsStore(tmp_path)
    (run,) = SUITE.plan(RunRequest(budget="smoke", seeds=1))
    cut = CountRun(run.suite, run.step, run.seed, run.iterations, interrupt_at=5)
    with pytest.raises(KeyboardInterrupt):
        run_suite(SUITE, [cut], store, CPU)
    assert store.records() == []
    assert (tmp_path / "runs" / run.run_id / "checkpoints" / "checkpoint_4.pt").exists()
    (record,) = run_suite(SUITE, [run], store, CPU)
    assert record["resumed_from_iteration"] == 4
    assert record["metrics"] == {"total": 6.0, "logged": 6}  # the checkpoint's state, continued
    (whole,) = run_suite(SUITE, [run], ResultsStore(tmp_path / "whole"), CPU)
    losses = (tmp_path / record["artifacts"]["losses"]).read_text()
    assert losses == (tmp_path / "whole" / whole["artifacts"]["losses"]).read_text()
    assert losses.splitlines()[0] == "iteration,total" and len(losses.splitlines()) == 1 + 6


@dataclass(frozen=True)
class CountCell(RunCell):
    """The fake kind's cell on the shared skeleton: only its names and configuration are its own."""

    kind: ClassVar[str] = "count"

    step: float

    @property
    def names(self) -> tuple[str, str]:
        return "counter", f"step{self.step:g}"

    def kind_config(self) -> dict[str, Any]:
        return {"step": self.step, "seed": self.seed}

    def work(self, context: RunContext) -> dict[str, Any]:
        return {}


def test_a_run_cell_derives_identity_configuration_run_id_and_label():
    cell = CountCell(step=2.0, suite="count", seed=1, budget="smoke", iterations=6, checkpoint_every=0,
                     max_seconds=None, settings={}, execution=Execution(threads=2))
    assert cell.config() == {"step": 2.0, "seed": 1, "execution": {"threads": 2, "precision": "fp32",
                                                                    "channels_last": False, "compile": False}}
    assert cell.identity == {"kind": "count", "suite": "count", "variant": "counter", "dataset": "step2", "seed": 1,
                             "budget": "smoke"}
    assert cell.label == "counter step2 seed 1"
    assert cell.run_id == run_id_for("counter", "step2", 1, "smoke", cell.config())
    assert cell.run_id != replace(cell, execution=Execution()).run_id  # the execution is in the hash


def test_a_broken_run_is_recorded_failed_and_the_suite_goes_on(tmp_path):
    store = ResultsStore(tmp_path)
    broken = CountRun("count", 1.0, 0, 6, fail_at=3)
    fine = CountRun("count", 1.0, 1, 6)
    records = run_suite(SUITE, [broken, fine], store, CPU)
    assert [r["status"] for r in records] == ["failed", "finished"]
    assert records[0]["error"] == "RuntimeError: the fake step broke"
    assert "the fake step broke" in (tmp_path / records[0]["artifacts"]["error"]).read_text()
    assert (tmp_path / "runs" / broken.run_id / "checkpoints" / "checkpoint_2.pt").exists()  # kept to resume


def test_a_non_finite_output_ends_the_run_diverged(tmp_path):
    (record,) = run_suite(SUITE, [CountRun("count", float("inf"), 0, 6)], ResultsStore(tmp_path), CPU)
    assert record["status"] == "diverged" and record["diverged_at"] == 1 and record["iterations_done"] == 1


@pytest.mark.parametrize("request_, message", [
    (RunRequest(budget="huge"), "unknown budget 'huge'; choose one of: smoke"),
    (RunRequest(budget="smoke", seeds=0), "seeds must be a positive number"),
    (RunRequest(budget="smoke", iterations=0), "iterations must be a positive number"),
    (RunRequest(budget="smoke", time_limit=-1), "time_limit must be a positive number"),
    (RunRequest(budget="smoke", options={"content": ["x"]}), "content is not an option of suite count"),
])
def test_requests_are_checked_before_anything_runs(request_, message):
    with pytest.raises(UserError, match=message):
        SUITE.plan(request_)


def test_a_failure_whose_error_txt_cannot_be_written_is_still_recorded(tmp_path):
    """Row 11 of issue 16: writing error.txt used to raise a second traceback."""
    store = ResultsStore(tmp_path)
    broken = CountRun("count", 1.0, 0, 6, fail_at=3)
    (tmp_path / "runs" / broken.run_id / "error.txt").mkdir(parents=True)  # error.txt cannot be a file
    (record,) = run_suite(SUITE, [broken], store, CPU)
    assert record["status"] == "failed"
    assert record["error"].startswith("RuntimeError: the fake step broke (and ")
    assert "error.txt could not be written: Is a directory)" in record["error"]
    assert "error" not in record["artifacts"]
    assert store.records() == [record]


def test_a_resumed_run_leaves_one_checkpoint_and_no_temporary_file(tmp_path):
    """A checkpoint replaces every older one, also those of an earlier process (which ignite's
    Checkpoint does not know of)."""
    store = ResultsStore(tmp_path)
    (run,) = SUITE.plan(RunRequest(budget="smoke", seeds=1, iterations=10))
    cut = CountRun(run.suite, run.step, run.seed, run.iterations, interrupt_at=5)
    with pytest.raises(KeyboardInterrupt):
        run_suite(SUITE, [cut], store, CPU)
    folder = tmp_path / "runs" / run.run_id / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint_4.pt"]
    (folder / "checkpoint_2.pt").write_bytes((folder / "checkpoint_4.pt").read_bytes())  # a stale older one
    seen = []
    cut = CountRun(run.suite, run.step, run.seed, run.iterations, interrupt_at=7)
    original = CountRun.interrupt

    def look_then_interrupt(engine):
        seen.append(sorted(p.name for p in folder.iterdir()))
        original(engine)

    try:
        CountRun.interrupt = staticmethod(look_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            run_suite(SUITE, [cut], store, CPU)
    finally:
        CountRun.interrupt = staticmethod(original)
    assert seen == [["checkpoint_6.pt"]]
    (record,) = run_suite(SUITE, [run], store, CPU)
    assert record["resumed_from_iteration"] == 6 and record["metrics"]["total"] == 10.0
    assert not folder.exists() and not list(tmp_path.rglob("*.tmp"))


def test_temporary_files_of_killed_processes_are_removed(tmp_path):
    """A temporary file is named by machine and process; one whose process is gone is stale."""
    import subprocess
    import sys

    from ganbench.results import _host

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    store = ResultsStore(tmp_path)
    stale = tmp_path / "runs" / "x" / "checkpoints" / f".checkpoint_6.pt.{_host()}-{dead}.0123456789ab.tmp"
    live = tmp_path / f".records.jsonl.{_host()}-{os.getpid()}.0123456789ab.tmp"
    elsewhere = tmp_path / f".records.jsonl.another-machine-{dead}.0123456789ab.tmp"
    foreign = tmp_path / ".notes.tmp"
    for path in (stale, live, elsewhere, foreign):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial")
    assert store.remove_stale_temporaries() == 1
    assert not stale.exists() and live.exists() and elsewhere.exists() and foreign.exists()
