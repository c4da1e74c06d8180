"""One output folder shared by several writers: records, claims on cells, stale claims, merge, shards."""

import csv
import errno
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganbench.cli import main
from ganbench.errors import UserError
from ganbench.execution import Execution
from ganbench.runs import Cell, run_cell
from ganbench.results import CLAIM_FILE, Claim, ResultsStore, merge_stores

ROOT = Path(__file__).resolve().parent.parent
ADD_RECORDS = """
import sys
from ganbench.results import ResultsStore
sys.path.insert(0, "tests")
from test_shared_store import record
store = ResultsStore(sys.argv[1])
for i in range(int(sys.argv[3])):
    store.add(record(f"{sys.argv[2]}_{i:03d}"))
store.export()  # once, as a command ends
"""


def record(run_id, status="finished", **fields):
    """A record with every field a ganbench record has."""
    return {"run_id": run_id, "suite": "t", "variant": "v", "dataset": "d", "budget": "b", "seed": 0,
            "status": status, "config": {}, "provenance": {"started_utc": "2026-12-01T00:00:00Z"}, "metrics": {},
            "throughput": {}, "artifacts": {}, **fields}


def python(*arguments: str) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, *arguments], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_two_processes_adding_200_records_each_lose_and_duplicate_nothing(tmp_path):
    writers = [python("-c", ADD_RECORDS, str(tmp_path), name, "200") for name in ("a", "b")]
    for writer in writers:
        output, _ = writer.communicate(timeout=240)
        assert writer.returncode == 0, output
    store = ResultsStore(tmp_path)
    expected = sorted(f"{name}_{i:03d}" for name in "ab" for i in range(200))
    assert sorted(r["run_id"] for r in store.records()) == expected
    exported = [json.loads(line)["run_id"] for line in store.records_path.read_text().splitlines()]
    assert exported == expected  # the export has every record once, sorted


def test_a_folder_written_before_run_folders_held_records_is_read_and_kept(tmp_path):
    old = record("old_1")
    (tmp_path / "records.jsonl").write_text(json.dumps(old) + "\n")
    store = ResultsStore(tmp_path)
    store.add(record("new_1", "failed"))
    store.add(record("new_1"))
    assert [(r["run_id"], r["status"]) for r in store.records()] == [("new_1", "finished"), ("old_1", "finished")]
    assert store.ended_ids() == {"old_1", "new_1"}
    store.export()  # as the command ends
    assert len(store.records_path.read_text().splitlines()) == 2


def test_records_are_exported_in_matrix_order_whatever_order_they_ended_in(tmp_path):
    store = ResultsStore(tmp_path)
    for index, run_id in [(2, "a_seed0"), (0, "z_seed0"), (1, "m_seed0")]:
        store.add(record(run_id, cell={"index": index, "of": 3}))
    assert [r["run_id"] for r in store.records()] == ["z_seed0", "m_seed0", "a_seed0"]


def test_a_live_claim_is_respected_and_released(tmp_path):
    store = ResultsStore(tmp_path)
    claim = store.claim("run_a")
    assert isinstance(claim, Claim)
    other = ResultsStore(tmp_path).claim("run_a")
    assert not isinstance(other, Claim) and other["pid"] == os.getpid()
    claim.release()
    assert not (tmp_path / "runs" / "run_a" / CLAIM_FILE).exists()
    again = store.claim("run_a")
    assert isinstance(again, Claim)
    again.release()


def test_a_dead_holders_claim_is_taken_over(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    store = ResultsStore(tmp_path)
    path = store.run_dir("run_a") / CLAIM_FILE
    path.write_text(json.dumps({"pid": dead_pid, "host": os.uname().nodename, "token": "x"}))
    claim = store.claim("run_a")
    assert isinstance(claim, Claim) and claim.taken_over["pid"] == dead_pid
    claim.release()


def test_a_claim_without_heartbeat_is_stale_on_any_host(tmp_path):
    store = ResultsStore(tmp_path, stale_seconds=60)
    path = store.run_dir("run_a") / CLAIM_FILE
    path.write_text(json.dumps({"pid": 1, "host": "another-machine", "token": "x"}))
    assert not isinstance(store.claim("run_a"), Claim)  # fresh: its holder may be alive over there
    old = time.time() - 120
    os.utime(path, (old, old))
    claim = store.claim("run_a")
    assert isinstance(claim, Claim) and claim.taken_over["host"] == "another-machine"
    claim.release()


def test_the_holder_keeps_its_claim_fresh_while_it_runs(tmp_path):
    store = ResultsStore(tmp_path, stale_seconds=0.5, heartbeat_seconds=0.05)
    claim = store.claim("run_a")
    path = tmp_path / "runs" / "run_a" / CLAIM_FILE
    old = time.time() - 100
    os.utime(path, (old, old))
    time.sleep(0.3)
    assert time.time() - path.stat().st_mtime < 0.5
    assert store.holder_of("run_a") is not None
    claim.release()


def test_two_identical_commands_on_one_folder_train_each_cell_once(tmp_path):
    out = tmp_path / "shared"
    command = ["-m", "ganbench", "run", "--budget", "smoke", "--seeds", "2", "--iterations", "20", "--out", str(out),
               "--no-progress", "--jobs", "1"]
    first = python(*command)
    time.sleep(1.0)
    second = python(*command)
    outputs = []
    for process in (first, second):
        output, _ = process.communicate(timeout=400)
        assert process.returncode == 0, output
        outputs.append(output)
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 4 and len({r["run_id"] for r in records}) == 4
    assert {r["status"] for r in records} == {"finished"}
    trained = [line for output in outputs for line in output.splitlines() if ": finished in" in line
               and "(run by another process)" not in line]
    assert len(trained) == 4, outputs  # each cell trained by one of the two commands
    assert all(not list(p.glob(CLAIM_FILE)) for p in (out / "runs").iterdir())
    assert "Traceback" not in "".join(outputs)
    # Both commands end by writing the same tables and plots; doing that at once is safe too.
    reports = [python("-c", "import sys; from ganbench.cli import main\n"
                            "for _ in range(3): assert main(sys.argv[1:]) == 0",
                      "report", str(out)) for _ in range(2)]
    for process in reports:
        output, _ = process.communicate(timeout=400)
        assert process.returncode == 0, output
    assert not list((out / "plots").glob(".*"))


def test_jobs_give_the_records_of_a_serial_run(tmp_path, capsys):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    common = ["run", "--budget", "smoke", "--seeds", "2", "--datasets", "ring8", "--iterations", "20", "--no-progress"]
    assert main([*common, "--out", str(serial), "--jobs", "1"]) == 0
    assert main([*common, "--out", str(parallel), "--jobs", "2"]) == 0
    assert "2 processes x 1 thread" in capsys.readouterr().out
    first, second = (ResultsStore(folder).records() for folder in (serial, parallel))
    assert [r["run_id"] for r in first] == [r["run_id"] for r in second]
    assert [r["metrics"] for r in first] == [r["metrics"] for r in second]
    assert all(r["config"]["execution"]["threads"] == 1 and r["provenance"]["device"]["torch_threads"] == 1
               for r in second)


def test_the_thread_count_is_part_of_the_run_id(tmp_path, capsys):
    out = tmp_path / "out"
    common = ["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--iterations", "5",
              "--no-progress", "--out", str(out)]
    assert main(common) == 0
    assert main([*common, "--threads", "2"]) == 0
    records = ResultsStore(out).records()
    assert len({r["run_id"] for r in records}) == 2
    assert sorted(r["provenance"]["device"]["torch_threads"] for r in records) == [1, 2]


def summary_without_timings(folder):
    # csv.reader: a quoted field (the protocol, "N = 2,500") holds commas
    lines = list(csv.reader((folder / "summary.csv").read_text().splitlines()))
    header = lines[0]
    keep = [i for i, name in enumerate(header) if not name.startswith(
        ("train_images", "ms_per", "generate_images", "peak_memory", "timed_iterations", "calibrated_peak",
         "train_gflops", "generate_gflops", "train_peak_share", "generate_peak_share"))]
    return [[row[i] for i in keep] for row in lines]


def test_shards_merged_give_the_table_of_one_run(tmp_path, capsys):
    common = ["run", "--budget", "smoke", "--seeds", "2", "--iterations", "10", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    assert main([*common, "--shard", "1/2", "--out", str(tmp_path / "one")]) == 0
    assert main([*common, "--shard", "2/2", "--out", str(tmp_path / "two")]) == 0
    shards = [ResultsStore(tmp_path / name).records() for name in ("one", "two")]
    assert [len(records) for records in shards] == [2, 2]
    assert main(["merge", str(tmp_path / "one"), str(tmp_path / "two"), "--out", str(tmp_path / "merged")]) == 0
    assert "merged 4 records from 2 folders" in capsys.readouterr().out
    merged, whole = ResultsStore(tmp_path / "merged").records(), ResultsStore(tmp_path / "whole").records()
    assert [r["run_id"] for r in merged] == [r["run_id"] for r in whole]
    assert summary_without_timings(tmp_path / "merged") == summary_without_timings(tmp_path / "whole")
    for record in merged:
        assert (tmp_path / "merged" / record["artifacts"]["losses"]).exists()
    # Merging a folder again (identical records) changes nothing.
    assert main(["merge", str(tmp_path / "one"), "--out", str(tmp_path / "merged")]) == 0
    assert len(ResultsStore(tmp_path / "merged").records()) == 4


def test_conflicting_records_are_one_error_naming_both_folders(tmp_path, capsys):
    for name, value in (("a", 1.0), ("b", 2.0)):
        ResultsStore(tmp_path / name).add(record("r1", metrics={"fid": value}))
    assert main(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "m")]) == 2
    error = capsys.readouterr().err
    assert (error.count("\n") == 1 and "run r1" in error
            and str(tmp_path / "a") in error and str(tmp_path / "b") in error)
    assert not (tmp_path / "m").exists()
    with pytest.raises(UserError):
        merge_stores([ResultsStore(tmp_path / "a")], ResultsStore(tmp_path / "b"))


@pytest.mark.parametrize("arguments, message", [
    (["--shard", "3/2"], "1 <= I <= N"),
    (["--shard", "x"], "1 <= I <= N"),
    (["--jobs", "0"], "positive number of processes"),
    (["--threads", "0"], "positive whole number"),
])
def test_bad_scale_options_are_one_error_line(arguments, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--budget", "smoke", "--out", str(tmp_path / "o"), *arguments])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_a_smoke_suite_through_submitits_local_executor(tmp_path, capsys):
    """--launcher local: the slurm code path (one submitit task per cell) on this machine."""
    pytest.importorskip("submitit")
    out = tmp_path / "out"
    assert main(["run", "--budget", "smoke", "--seeds", "1", "--iterations", "10", "--launcher", "local",
                 "--time", "10", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "local tasks through submitit" in printed and "[2/2] fc grid25 seed 0: finished" in printed
    records = ResultsStore(out).records()
    assert [(r["dataset"], r["status"]) for r in records] == [("ring8", "finished"), ("grid25", "finished")]
    assert len(list((out / "submitit").glob("*/*_result.pkl"))) == 2  # each cell was a submitit task
    assert (out / "summary.md").exists()


def test_slurm_options_without_the_slurm_launcher_are_one_error_line(tmp_path, capsys):
    assert main(["run", "--budget", "smoke", "--partition", "gpu", "--out", str(tmp_path / "o")]) == 2
    assert "options of --launcher slurm" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_workers_end_with_a_parent_killed_outright(tmp_path):
    """SIGTERM runs no ``finally``: the pool's workers would keep training cells nobody waits
    for (seen: orphans of a killed ``--jobs 2`` still running 40 minutes later)."""
    out = tmp_path / "killed"
    parent = python("-m", "ganbench", "run", "--budget", "smoke", "--seeds", "2", "--iterations", "100000",
                    "--out", str(out), "--no-progress", "--jobs", "2")
    deadline = time.monotonic() + 300
    while not list(out.glob("runs/*/" + CLAIM_FILE)):  # a worker has claimed a cell
        assert parent.poll() is None and time.monotonic() < deadline, parent.communicate()[0]
        time.sleep(0.5)
    workers = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True,
                                                  text=True).stdout.split()]
    assert workers
    parent.terminate()
    parent.wait(timeout=60)
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
              for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived its killed parent"
        time.sleep(0.5)


def test_storing_a_record_leaves_records_jsonl_to_the_commands_end(tmp_path):
    """records.jsonl was rewritten whole after every record (O(N) each, O(N^2) per matrix)."""
    store = ResultsStore(tmp_path)
    store.add(record("r1"))
    store.add(record("r2"))
    assert not store.records_path.exists()
    assert [r["run_id"] for r in store.records()] == ["r1", "r2"]  # the run folders are the live records
    store.export()
    assert [json.loads(line)["run_id"] for line in store.records_path.read_text().splitlines()] == ["r1", "r2"]


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK])
def test_an_output_folder_without_file_locks_is_one_error_line(code, tmp_path, capsys, monkeypatch):
    """Lustre mounted noflock, NFS without a lock manager: flock fails; claims need it."""
    def no_locks(*arguments):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    out = tmp_path / "o"
    assert main(["run", "--budget", "smoke", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("ganbench: error: ")
    assert "gives no file locks" in error and "--out DIR" in error and "flock" in error
    assert not out.exists()  # nothing left behind


def test_an_output_folder_without_exclusive_creation_is_an_error(tmp_path, monkeypatch):
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, flags, *rest: real_open(path, flags & ~os.O_EXCL, *rest))
    with pytest.raises(UserError, match="exclusive file creation"):
        ResultsStore(tmp_path / "o").ensure_writable()


def test_two_nodes_creating_one_claim_at_once_give_it_to_one(tmp_path, monkeypatch):
    """Without coherent locks, another node can create the claim between our check and our create."""
    store = ResultsStore(tmp_path)
    path = store.run_dir("run_a") / CLAIM_FILE
    other = {"pid": 1, "host": "node-b", "token": "theirs"}
    real_open = os.open

    def raced(target, flags, *rest):
        if Path(target) == path and flags & os.O_EXCL and not path.exists():
            path.write_text(json.dumps(other))  # node b wins the race
        return real_open(target, flags, *rest)

    monkeypatch.setattr(os, "open", raced)
    holder = store.claim("run_a")
    assert not isinstance(holder, Claim) and holder["host"] == "node-b"
    assert json.loads(path.read_text())["token"] == "theirs"


def test_a_holder_whose_claim_was_taken_over_does_not_write_its_record(tmp_path):
    store = ResultsStore(tmp_path)

    class Run:
        run_id, label = "run_a", "run a"
        identity = {"kind": "gan", "suite": "t", "variant": "v", "dataset": "d", "seed": 0, "budget": "b"}
        execution = Execution()

        def config(self):
            return {}

        def work(self, context):  # meanwhile another process judges the claim stale and takes it over
            (context.run_dir / CLAIM_FILE).write_text(json.dumps({"pid": 1, "host": "node-b", "token": "new"}))
            return {"status": "finished"}

    outcome = run_cell(Cell(Run(), 0, 1), store, torch.device("cpu"), False, False, False, "2026-01-01T00:00:00Z")
    assert outcome.record is None and outcome.holder["host"] == "node-b"
    assert not (tmp_path / "runs" / "run_a" / "record.json").exists()
    assert json.loads((tmp_path / "runs" / "run_a" / CLAIM_FILE).read_text())["token"] == "new"  # left alone
