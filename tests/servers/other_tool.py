"""Writes a pipeline the way another tool does: MLflow's own Python client, nested runs, no
steprun tags. Run as a script by the Python of the server under test (its own MLflow client):

    python other_tool.py TRACKING_URI EXPERIMENT [PLAIN_CHILDREN [BARE_CHILDREN]]

Prints JSON: {"experiment_id", "pipeline", "children": {name: run_id}}. The children are
``prep`` (stdout and stderr logs, a lone-file output and a folder output, metrics, a param),
``train`` (a log of its own name, ended FAILED), ``empty`` (no artifacts at all) and
``plain-<i>`` (one stdout log each) and ``bare-<i>`` (no artifacts, like ``empty``).
"""

import json
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient


def main() -> None:
    uri, experiment = sys.argv[1], sys.argv[2]
    plain = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    bare = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.set_experiment(experiment).experiment_id
    client = MlflowClient()
    children = {}
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_name="other-pipeline") as parent:
        with mlflow.start_run(run_name="prep", nested=True) as run:
            mlflow.log_param("rows", 3)
            for step, loss in enumerate((0.9, 0.5, 0.25)):
                mlflow.log_metric("loss", loss, step=step)
            mlflow.log_metric("accuracy", 0.75)
            mlflow.log_text("reading data\nprep done ✓\n", "logs/stdout.txt")
            mlflow.log_text("a warning\n", "logs/stderr.txt")
            data = Path(tmp, "data.csv")
            data.write_text("a,b\n1,2\n", encoding="utf-8")
            mlflow.log_artifact(str(data), "outputs")
            model = Path(tmp, "model")
            (model / "weights").mkdir(parents=True)
            (model / "config.json").write_text('{"layers": 2}', encoding="utf-8")
            (model / "weights" / "w.bin").write_bytes(bytes(range(256)))
            mlflow.log_artifacts(str(model), "outputs/model")
            children["prep"] = run.info.run_id
        # Not a with-block: leaving one would end the run again (and, in 2.x, its parent).
        run = mlflow.start_run(run_name="train", nested=True)
        mlflow.log_text("epoch 1\nTraceback: boom\n", "logs/train.log")
        children["train"] = run.info.run_id
        mlflow.end_run(status="FAILED")
        with mlflow.start_run(run_name="empty", nested=True) as run:
            children["empty"] = run.info.run_id
        for i in range(plain):
            # The client directly: three requests a child, so a 200-step pipeline is quick to make.
            child = client.create_run(experiment_id, run_name=f"plain-{i}",
                                      tags={"mlflow.parentRunId": parent.info.run_id})
            client.log_text(child.info.run_id, f"plain {i} says hello\n", "logs/stdout.txt")
            client.set_terminated(child.info.run_id, "FINISHED")
            children[f"plain-{i}"] = child.info.run_id
        for i in range(bare):
            child = client.create_run(experiment_id, run_name=f"bare-{i}",
                                      tags={"mlflow.parentRunId": parent.info.run_id})
            client.set_terminated(child.info.run_id, "FINISHED")
            children[f"bare-{i}"] = child.info.run_id
    print(json.dumps({"experiment_id": experiment_id, "pipeline": parent.info.run_id,
                      "children": children}))


if __name__ == "__main__":
    main()
