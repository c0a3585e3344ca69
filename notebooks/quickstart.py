"""Quickstart: run the sample pipeline on the embedded MLflow server and look at its steps.

    pip install ".[local]"      # from a checkout, with the local extra (the embedded MLflow server)
    python notebooks/quickstart.py

Starts (or reuses) your local MLflow tracking server (its store in your user data folder, one for all
your notebooks and scripts; ``--root DIR`` for a project-local one), submits the
three-step sample pipeline of ``notebooks/sample`` (prep -> train -> evaluate, data flowing from
each step to the next), streams the steps' logs while they run, downloads the evaluation metrics,
prints the metrics the train step logged (``get_metrics()``), and prints where to look next. Run it
again: every step is reused. Edit ``notebooks/sample/train/train.py`` and run it again: train and
evaluate run, prep is reused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS_URL = "https://github.com/steprun-widgets/steprun-widgets"
sys.path.insert(0, str(HERE / "sample"))

from sample_pipeline import build_pipeline  # noqa: E402

from steprun_widgets import Experiment, Workspace  # noqa: E402
from steprun_widgets.errors import StepRunError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the sample pipeline on the embedded MLflow server.")
    parser.add_argument("--root", default=None,
                        help="folder of the embedded server's store (default: your per-user one, "
                             "$STEPRUN_HOME or the platform's user data folder)")
    parser.add_argument("--experiment", default="quickstart", help="experiment name (default: quickstart)")
    parser.add_argument("--rows", type=int, default=200, help="rows of the sample data set (default: 200)")
    args = parser.parse_args(argv)

    try:
        workspace = Workspace.local(args.root)
    except StepRunError as exc:
        print(f"Could not start the embedded server: {exc}", file=sys.stderr)
        return 1
    print(f"Tracking server: {workspace.tracking_uri}\n")

    experiment = Experiment(workspace, args.experiment)
    run = experiment.submit(build_pipeline(workspace, rows=args.rows))
    status = run.wait_for_completion(show_output=True, raise_on_error=False)
    if status != "Finished":
        print(f"\nThe pipeline ended {status}; see the step's stderr above.", file=sys.stderr)
        return 1

    evaluate = run.find_step_run("evaluate")[0]
    downloads = Path(workspace.local_root) / "downloads" / run.id
    folder = Path(evaluate.get_output_data("metrics").download(local_path=downloads, overwrite=True,
                                                               show_progress=False))
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    reused = [s.name for s in run.steps_in_graph_order() if s.is_reused]

    print(f"\nOutput 'metrics' of step 'evaluate' downloaded to {folder}:")
    print(f"  fitted y = {metrics['a']:.3f} * x + {metrics['b']:.3f}, "
          f"mse {metrics['mse']:.4f}, r2 {metrics['r2']:.4f}")
    if reused:
        print(f"  reused from earlier runs: {', '.join(reused)} (edit a script under {HERE / 'sample'} "
              "to make it run again)")
    train = run.find_step_run("train")[0]
    print("\nMetrics of step 'train' (train.get_metrics()):")
    for name, value in train.get_metrics().items():
        shown = ", ".join(f"{v:.4f}" for v in value) if isinstance(value, list) else value
        print(f"  {name}: {shown}")
    root = workspace.local_root
    secret = Path(root) / "basic_auth.ini"
    root_option = f" --root {args.root}" if args.root else ""
    root_argument = repr(args.root) if args.root else ""
    notebook = HERE / "quickstart.ipynb"
    if notebook.is_file():
        notebook_hint = (f"jupyter lab {notebook}\n    (and a lesson for a class: {HERE / 'teaching.ipynb'}; "
                         "pip install jupyterlab first)")
    else:  # this script was copied without the notebooks beside it
        notebook_hint = f"notebooks/quickstart.ipynb of {DOCS_URL}"
    print(f"""
Where to look next:
  * the MLflow UI of the embedded server:  {workspace.tracking_uri}
    (experiment {args.experiment!r}, pipeline run {run.id}); only you get in: sign in as
    {workspace.transport.username!r} with the admin_password of {secret} (readable only by you)
  * watch a run from a terminal:   steprun-widgets watch {run.id}{root_option}
  * the notebook version, with the live widgets:   {notebook_hint}
  * the documentation:   {DOCS_URL}
  * in any notebook, the live widget of this run:
        from steprun_widgets import Workspace, Experiment, PipelineRun, RunDetails
        ws = Workspace.local({root_argument})
        RunDetails(PipelineRun(Experiment(ws, {args.experiment!r}), {run.id!r})).show()
  * the sample's scripts and how the pipeline is built:  {HERE / 'sample'}
  * stop the embedded server when done:   steprun-widgets server stop{root_option}
""")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
