"""playtally in Airflow: for teams that already orchestrate their jobs with Airflow (2.4 or newer).

Two DAGs:

``playtally_daily`` (daily, for the logical date ``ds``)
    1. ``wait_for_log``: a FileSensor on the day's log ``listen-{{ ds_nodash }}.log`` in the landing
       folder (set LOG_SUFFIX to ".log.gz" if your logs arrive compressed). It only sees that the
       file exists, not that it is complete: deliver logs atomically (write them as a dotfile,
       ``*.tmp`` or ``*.part``, which playtally ignores, and rename them into place). A log is
       moved to ARCHIVE once every chart that needs it is written (about a window, 7 days, after
       its day): clearing an older DAG run waits for a file that is no longer there; mark
       ``wait_for_log`` success for it.
    2. ``playtally_run``: ``playtally run``, the idempotent unattended run: it parses every log
       that is new or changed (the day's log and any late or replaced one), quarantines a log with
       too many rejected lines, writes the charts of every date whose window changed, archives the
       logs whose charts are all written and prunes old partials.
    3. ``check_status``: ``playtally status --json``, failing the task unless the last run is ok,
       the day's log is processed, the charts reach the day, and the day's log is not quarantined.

``playtally_backfill`` (paused; for history)
    ``playtally backfill --from {{ ds }} --to {{ ds }}``: the charts of one date per DAG run, for
    ``airflow dags backfill -s 2024-01-01 -e 2024-03-31 playtally_backfill``. One process over the
    whole range does the same in less time:
    ``playtally backfill --logs ... --out ... --state ... --from 2024-01-01 --to 2024-03-31``.

Exit codes and retries. BashOperator fails the task on any non-zero exit code, and Airflow
retries a failed task whatever the code. That is what exit code 5 needs: the state folder is
locked by another playtally process (a backfill, a ``top50`` by hand, a task of the other DAG),
and the same command succeeds once it is done. ``--wait --wait-timeout 10m`` already waits up
to 10 minutes inside the task; ``retries=3`` with ``retry_delay`` 5 minutes covers a longer
wait. ``max_active_runs=1`` keeps this DAG's own runs from contending for the lock. A retry does no
harm after any other code either: a second run with nothing new writes nothing. Codes 2 (usage),
3 (logs folder missing) and 4 (output or state folder not writable) fail again until someone fixes
the cause. Runs of the same state folder must happen on the one host that holds it (a stale lock
is detected only on the host that took it): give these tasks a queue served by that host.

Placeholders, change them to your layout (see deploy/README.md):
    PLAYTALLY       how to start the CLI: Node.js 20+ and the built application
    LANDING         where the daily logs arrive (listen-YYYYMMDD.log or .log.gz)
    ARCHIVE         where logs are moved once every chart that needs them is written
    CHARTS          the chart files and quality reports
    STATE           partials, manifest.json, runs.jsonl, the lock
    fs_default      the Airflow filesystem connection of the FileSensor (path "/")

Do not also run playtally-run.timer, cron or ``playtally watch`` on the same state folder.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.sensors.filesystem import FileSensor

PLAYTALLY = "/usr/bin/node /opt/playtally/dist/bin/playtally.js"
LANDING = "/srv/playtally/landing"
ARCHIVE = "/srv/playtally/archive"
CHARTS = "/srv/playtally/charts"
STATE = "/srv/playtally/state"
LOG_SUFFIX = ".log"  # ".log.gz" for gzip-compressed logs

# Options shared by run and backfill. Add "--on-failure-webhook https://..." for alerts outside
# Airflow, "--memory 2GB" or "--threads 4" to size the job.
COMMON = " --logs " + LANDING + " --out " + CHARTS + " --state " + STATE + " --archive " + ARCHIVE

# The status check, run by python3 on the JSON of `playtally status --json` (argv: file, day).
# (No f-strings or braces here: the command is a Jinja template.)
CHECK_STATUS = """
set -euo pipefail
status_file=$(mktemp)
trap 'rm -f "$status_file"' EXIT
""" + PLAYTALLY + " status --state " + STATE + " --logs " + LANDING + """ --runs 1 --json > "$status_file"
python3 - "$status_file" '{{ ds }}' <<'PY'
import json
import sys

status = json.load(open(sys.argv[1]))
day = sys.argv[2]
problems = []
runs = status["runs"]
if not runs:
    problems.append("no run recorded yet")
elif not runs[-1]["ok"]:
    problems.append("the last run failed: " + json.dumps(runs[-1].get("error")))
for q in status["quarantined"]:
    if q["date"] == day:
        problems.append("the log of " + day + " is quarantined: " + q["message"] + " (" + str(q["movedTo"]) + ")")
if not any(d["date"] == day for d in status["days"]):
    problems.append("the log of " + day + " is not processed")
last = status["charts"]["last"]
if last is None or last < day:
    problems.append("no chart for " + day + " (newest chart: " + str(last) + ")")
if problems:
    print("\\n".join(problems))
    sys.exit(1)
print(
    "ok: charts " + str(status["charts"]["first"]) + " .. " + last
    + "; missing days: " + (", ".join(status["missingDays"]) or "none")
    + "; not processed yet: " + (", ".join(status["pending"]) or "none")
)
PY
"""

default_args = {
    "owner": "playtally",
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
}

with DAG(
    dag_id="playtally_daily",
    description="rolling top-50 charts from the day's listen log",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["playtally"],
) as daily:
    wait_for_log = FileSensor(
        task_id="wait_for_log",
        fs_conn_id="fs_default",
        filepath=LANDING + "/listen-{{ ds_nodash }}" + LOG_SUFFIX,
        mode="reschedule",
        poke_interval=300,
        timeout=12 * 3600,
        retries=0,
    )

    playtally_run = BashOperator(
        task_id="playtally_run",
        bash_command=PLAYTALLY + " run" + COMMON + " --wait --wait-timeout 10m",
        execution_timeout=timedelta(hours=3),
    )

    check_status = BashOperator(
        task_id="check_status",
        bash_command=CHECK_STATUS,
        retries=0,
    )

    wait_for_log >> playtally_run >> check_status

with DAG(
    dag_id="playtally_backfill",
    description="the charts of one date per run, for airflow dags backfill",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=True,
    max_active_runs=1,
    default_args=default_args,
    tags=["playtally"],
) as backfill:
    # Charts already current (written from the same inputs) are kept; add --force to rewrite them.
    BashOperator(
        task_id="playtally_backfill",
        bash_command=PLAYTALLY + " backfill" + COMMON + " --from {{ ds }} --to {{ ds }} --wait --wait-timeout 10m",
        execution_timeout=timedelta(hours=3),
    )
