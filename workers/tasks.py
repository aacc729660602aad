"""The stage tasks: shims that run one stage of a job (service.jobs.stages) under its lease.

A task takes the job id only; everything else is re-read from the database, so a message
delivered twice, late or after a cancel finds nothing to do.
"""

from celery import shared_task

from service.jobs import stages
from service.jobs.lease import run_stage
from service.jobs.states import Stage
from workers.app import worker_runtime


@shared_task(name=Stage.SYNTHESIZE.task_name)
def synthesize(job_id: int) -> None:
    run_stage(job_id, Stage.SYNTHESIZE, lambda run: stages.synthesize(run, runtime=worker_runtime))


@shared_task(name=Stage.VALIDATE.task_name)
def validate(job_id: int) -> None:
    run_stage(job_id, Stage.VALIDATE, stages.validate)


@shared_task(name=Stage.FINETUNE.task_name)
def finetune(job_id: int) -> None:
    run_stage(job_id, Stage.FINETUNE, stages.finetune)


@shared_task(name=Stage.EVALUATE.task_name)
def evaluate(job_id: int) -> None:
    run_stage(job_id, Stage.EVALUATE, lambda run: stages.evaluate(run, runtime=worker_runtime))


@shared_task(name=Stage.PROMOTE.task_name)
def promote(job_id: int) -> None:
    run_stage(job_id, Stage.PROMOTE, stages.promote)
