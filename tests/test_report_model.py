"""The report is computed once: `write_outputs` reads the records once and summarises them once
for all runs and once per kind (the report model); every writer reads that model."""

from ganbench.builtins import register_builtins
from ganbench.report import tables, write_outputs
from ganbench.report.model import build_model
from ganbench.results import ResultsStore
from report_records import write_folder


def test_records_are_read_and_summarised_once(tmp_path, monkeypatch):
    register_builtins()
    write_folder(tmp_path)
    built = []
    original = tables.SummaryTable.__init__

    def counted(self, *args, **kwargs):
        built.append(args[0] if args else kwargs["group"])
        original(self, *args, **kwargs)

    reads = []
    records = ResultsStore.records
    monkeypatch.setattr(tables.SummaryTable, "__init__", counted)
    monkeypatch.setattr(ResultsStore, "records", lambda self: reads.append(1) or records(self))
    write_outputs(ResultsStore(tmp_path))
    assert len(reads) == 1
    assert built == [tuple(tables.GROUP), tuple(tables.GROUP)]  # the GAN comparison, then all runs


def test_the_model_holds_every_table_the_writers_show(tmp_path):
    register_builtins()
    records = write_folder(tmp_path)
    model = build_model(records)
    assert [table.kind for table in model.tables] == ["gan"] and set(model.kinds) == {"gan", "style", "evaluation"}
    assert len(model.kinds["gan"]) == len(records) and not model.kinds["style"] and not model.kinds["evaluation"]
    assert len(model.cards) == len(model.tables[0].rows) == 2
    (shown,) = model.shown  # one protocol: one displayed table, titled by its key
    assert list(shown.frame["variant"]) == ["dcgan", "fc"] and model.notes and model.summary.significance
    assert shown.title.startswith("budget smoke; fidelity: lenet") and model.sections["gan"].rows
