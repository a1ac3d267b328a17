#!/usr/bin/env bash
# Stop the one-node cluster that start.sh started: cancel its jobs, then slurmd,
# slurmctld and munged, each waited for. Safe to run when nothing is running.
set -uo pipefail
stop() {  # stop <name>: TERM the daemon by pid, wait up to 20 s for it to exit
    local pids
    pids="$(pidof "$1")" || return 0
    kill $pids
    for _ in $(seq 20); do
        pidof "$1" >/dev/null || return 0
        sleep 1
    done
    echo "slurm-local: $1 (pid $pids) still running after 20 s" >&2
    return 1
}
status=0
pidof slurmctld >/dev/null && scancel --user="$(id -un)" >/dev/null 2>&1
stop slurmd || status=1
stop slurmctld || status=1
stop munged || status=1
exit "$status"
