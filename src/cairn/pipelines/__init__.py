"""Training pipelines as code (maturity Level 1): steps, a DAG, caching, executors.

    import cairn

    @cairn.step
    def load(n: int) -> pd.DataFrame: ...

    @cairn.step(retries=2, timeout=600, cpus=2)
    def train(frame: pd.DataFrame, lr: float) -> LogisticRegression: ...

    @cairn.pipeline(name="training")
    def training(n: int = 1000, lr: float = 0.1):
        return train(load(n), lr)

    result = training.run(params={"lr": 0.05})      # or cairn.pipelines.run("mod:training", ...)
    result.status, result.run_id, result.outputs["train"]

``run(ref, params, executor=None, cache=True) -> PipelineRun`` is the stable entry point that
schedules and the job queue build on; ``rerun`` and ``resume`` replay a recorded run.
"""

from cairn.pipelines.executors import Executor, get_executor, register_executor
from cairn.pipelines.graph import Graph, StepOutput
from cairn.pipelines.resources import Resources
from cairn.pipelines.runner import (
    CodeChangedWarning,
    PipelineFailed,
    PipelineRun,
    StepEvent,
    StepRecord,
    get_run,
    rerun,
    resume,
    run,
)
from cairn.pipelines.steps import Pipeline, Step, load_pipeline, pipeline, step

__all__ = [
    "CodeChangedWarning",
    "Executor",
    "Graph",
    "Pipeline",
    "PipelineFailed",
    "PipelineRun",
    "Resources",
    "Step",
    "StepEvent",
    "StepOutput",
    "StepRecord",
    "get_executor",
    "get_run",
    "load_pipeline",
    "pipeline",
    "register_executor",
    "rerun",
    "resume",
    "run",
    "step",
]
