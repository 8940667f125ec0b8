"""`voicebot analyze --ray auto|ADDRESS|local`: the same per-call analysis on Ray Data.

Calls go out as a dataset of small job records; an actor pool holds the models (one Analyzer
per actor, loaded once, one CPU each) and sends each call's result back as JSON; the driver
writes the files, tables and database rows as results stream in, exactly as the embedded run
does. On a cluster, every node needs this package installed and the call files at the same
paths (a shared mount); the results are written where the driver runs.
"""
from __future__ import annotations

import json
import os

from voicebot.archive.analysis import Analyzer, analyze_one

# quiet and offline (../shared/docs/ray-and-postgres.md): no usage stats, no token auth file,
# no Ray progress bars under our own; set before Ray is imported (not when this module is:
# `voicebot analyze` imports it for every run, and an embedded run has no Ray)
QUIET = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}


class CallActor:
    """One per actor: the models load in __init__, then each batch of calls is analysed."""

    def __init__(self, config, channels):
        self.analyzer = Analyzer(config, threads=1).load()
        self.channels = channels

    def __call__(self, batch):
        import numpy as np
        docs, errors = [], []
        for raw in batch["job"]:
            doc, error = analyze_one(self.analyzer, json.loads(raw), self.channels)
            docs.append(json.dumps(doc, ensure_ascii=False) if doc else "")
            errors.append(error or "")
        import ray
        node = ray.get_runtime_context().get_node_id()  # the driver says how far the work spread
        return {"job": batch["job"], "doc": np.array(docs, dtype=object), "error": np.array(errors, dtype=object),
                "node": np.array([node] * len(docs), dtype=object)}


def connect(address: str) -> bool:
    """Join (or for "local" start) a Ray instance; True when this call started it."""
    for k, v in QUIET.items():
        os.environ.setdefault(k, v)
    import ray
    if ray.is_initialized():
        return False
    common = {"log_to_driver": False, "logging_level": "warning"}
    if address == "local":
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **common)
    else:
        ray.init(address=address, **common)
    return True


def run_ray(jobs: list[dict], config, channels: dict | None, address: str, workers: int = 0, info: dict | None = None):
    """Yield (job, doc, error) as calls finish on the cluster; `workers` actors (0: one per CPU).
    `info` gets the actor count and the nodes that analysed calls."""
    info = {} if info is None else info
    if not jobs:
        return
    import logging

    for k, v in QUIET.items():
        os.environ.setdefault(k, v)
    import ray
    import ray.data
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its plan and timing lines, per run
    started = connect(address)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        size = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        info.update(actors=min(size, len(jobs)), nodes=set())
        ds = ray.data.from_items([{"job": json.dumps(j)} for j in jobs])
        # batch_size 1: a call is seconds of work, and results should stream back one by one;
        # from_items has no read tasks, so actors holding every CPU cannot starve them
        out = ds.map_batches(CallActor, fn_constructor_kwargs={"config": config, "channels": channels},
                             compute=ray.data.ActorPoolStrategy(size=min(size, len(jobs))), num_cpus=1,
                             batch_size=1, batch_format="numpy")
        for row in out.iter_rows():
            info["nodes"].add(row["node"])
            doc = json.loads(row["doc"]) if row["doc"] else None
            yield json.loads(row["job"]), doc, row["error"] or None
    finally:
        if started:
            ray.shutdown()
