"""Runs and results: jobs (agent x target x seed), stage-1 caching, resumable jobs, launchers, the results tree."""

from xtra_bench.runner.config import RunConfig
from xtra_bench.runner.jobs import Job, Stage1, expand_jobs
from xtra_bench.runner.run import Plan, plan_run, run
from xtra_bench.runner.store import JobStore

__all__ = ["Job", "JobStore", "Plan", "RunConfig", "Stage1", "expand_jobs", "plan_run", "run"]
