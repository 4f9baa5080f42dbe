"""A tiny run through the official wandb SDK, for tests/wandb_sdk.rs.

`tiny_run.py new FILE`: a run with a config, group, tags and display name,
three history lines, a summary value, one saved file, and completion.
`tiny_run.py resume`: the same run resumed, one more history line, completion.
The server, key and directories come from the environment the test sets.
"""
import os
import sys

import wandb

SETTINGS = dict(x_disable_stats=True, x_disable_meta=True, x_disable_machine_info=True)


def new(path):
    run = wandb.init(
        project="proj",
        entity="test-entity",
        id="sdkrun01",
        name="m/d/greedy",
        group="exp",
        tags=["t1"],
        config={"num_rollouts": 4, "method": "greedy"},
        settings=wandb.Settings(**SETTINGS),
    )
    for step in range(3):
        run.log({"reward": -float(step), "sample_id": f"s{step}"})
    run.summary["mean_reward"] = -1.0
    run.save(path, base_path=os.path.dirname(path), policy="now")
    run.finish(exit_code=0)


def resume():
    run = wandb.init(project="proj", entity="test-entity", id="sdkrun01", resume="must", settings=wandb.Settings(**SETTINGS))
    run.log({"reward": -3.0, "sample_id": "s3"})
    run.finish(exit_code=0)


if __name__ == "__main__":
    if sys.argv[1] == "new":
        new(sys.argv[2])
    else:
        resume()
