"""What a submission writes about its graph for the widget: the data on each edge, a short name."""

from __future__ import annotations

from steprun_widgets.core import layout
from steprun_widgets.local import Pipeline, PipelineData, PythonScriptStep
from steprun_widgets.local.submit import default_pipeline_name


def test_default_pipeline_name_lists_a_few_steps_and_counts_many():
    assert default_pipeline_name(["prep", "train", "evaluate"]) == "pipeline: prep, train, evaluate"
    names = ["source", *(f"part-{i}" for i in range(198)), "sink"]
    assert default_pipeline_name(names) == "pipeline: source +199 steps"
    assert default_pipeline_name(names) == default_pipeline_name(list(names))  # stable
    long = ["x" * 60, "y"]
    assert default_pipeline_name(long) == f"pipeline: {'x' * 31}… +1 step"
    assert default_pipeline_name(long[:1]) == f"pipeline: {'x' * 31}…"
    assert default_pipeline_name([*long, "z"]) == f"pipeline: {'x' * 31}… +2 steps"
    assert default_pipeline_name([]) == "pipeline"


def test_edges_carry_the_names_of_their_pipeline_data(tmp_path):
    for script in ("load", "fit", "report", "tidy"):
        (tmp_path / f"{script}.py").write_text("", encoding="utf-8")
    raw, model = PipelineData("raw"), PipelineData("model", output_name="weights")
    load = PythonScriptStep("load.py", name="load", arguments=[raw], outputs=[raw], source_directory=tmp_path)
    fit = PythonScriptStep("fit.py", name="fit", arguments=[raw, model], inputs=[raw], outputs=[model],
                           source_directory=tmp_path)
    report = PythonScriptStep("report.py", name="report", arguments=[raw, model], inputs=[raw, model],
                              source_directory=tmp_path)
    tidy = PythonScriptStep("tidy.py", name="tidy", source_directory=tmp_path)
    tidy.run_after(report)
    pipeline = Pipeline(None, [load, fit, report, tidy])
    data = pipeline.edge_data()
    assert data == {(load.node_id, fit.node_id): ["raw"], (load.node_id, report.node_id): ["raw"],
                    (fit.node_id, report.node_id): ["model"]}
    assert (report.node_id, tidy.node_id) not in data  # run_after: no data flows

    tag = layout.encode_graph([{"id": s.node_id, "name": s.name} for s in pipeline.steps],
                              pipeline.edges(), data)
    assert layout.decode_edge_data(tag) == data
    # the graph itself reads as before: (from, to) pairs, the run_after edge among them
    assert sorted(layout.decode_graph(tag)["edges"]) == sorted(pipeline.edges())


def test_a_graph_tag_without_edge_data_still_reads():
    old = '{"nodes":[{"id":"a","name":"a"},{"id":"b","name":"b"}],"edges":[["a","b"]]}'
    assert layout.decode_graph(old)["edges"] == [("a", "b")]
    assert layout.decode_edge_data(old) == {}
    odd = '{"nodes":[],"edges":[["a","b",["", 5, "ok"]],["a","c","not a list"],["a"]]}'
    assert layout.decode_edge_data(odd) == {("a", "b"): ["ok"]}
    assert layout.decode_graph(odd)["edges"] == [("a", "b"), ("a", "c")]
    assert layout.decode_edge_data("not json") == {}
