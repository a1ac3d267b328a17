#!/usr/bin/env bash
# Install (Debian packages, as root) and start a one-node SLURM cluster on this machine:
# munged, slurmctld, slurmd with a `cpu` and a `gpu` partition. Waits until the node is
# idle. Idempotent: a running cluster with the same configuration is left as it is.
#   tools/slurm-local/start.sh          (SLURM_LOCAL_STATE, default /var/lib/slurm-local)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${SLURM_LOCAL_STATE:-/var/lib/slurm-local}"
gpus="${SLURM_LOCAL_GPUS:-2}"  # fake GPUs on the node, 1 to 4
if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local: start.sh needs root (it installs packages and runs the daemons)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends slurm-wlm munge \
        || { apt-get update -q && apt-get install -y -q --no-install-recommends slurm-wlm munge; }
fi
mkdir -p "$state/ctld" "$state/d" /etc/slurm /run/munge /var/log/munge /var/lib/munge
host="$(hostname -s)"
# The node line as slurmd sees this machine (CPUs, sockets, cores, RealMemory).
node="$(slurmd -C | head -n1)"
sed -e "s|@HOST@|$host|" -e "s|@STATE@|$state|g" -e "s|@NODE@|$node|" -e "s|@GPUS@|$gpus|" \
    "$here/slurm.conf.in" > "$state/slurm.conf.new"
# gres/gpu drops file-less GPUs, so each fake GPU names a harmless character device.
# Jobs see CUDA_VISIBLE_DEVICES but no device: torch stays on the CPU.
devices="$(printf '/dev/null\n/dev/zero\n/dev/full\n/dev/random' | head -n "$gpus" | paste -sd,)"
echo "NodeName=$host Name=gpu File=$devices" > "$state/gres.conf.new"
changed=0
for f in slurm.conf gres.conf; do
    if ! cmp -s "$state/$f.new" "/etc/slurm/$f"; then
        mv "$state/$f.new" "/etc/slurm/$f"
        changed=1
    else
        rm "$state/$f.new"
    fi
done
if [ "$changed" = 1 ]; then "$here/stop.sh" >/dev/null 2>&1 || true; fi
# munge: the Debian package creates the key; make one if a minimal install did not.
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
fi
pidof slurmctld >/dev/null || slurmctld
pidof slurmd >/dev/null || slurmd
for _ in $(seq 60); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qx 'idle'; then
        sinfo
        exit 0
    fi
    # A node left down by an earlier run of this script comes back here.
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 1
done
echo "slurm-local: the node did not become idle in 60 s; logs in $state/*.log:" >&2
sinfo -N -l >&2 || true
tail -n 20 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
exit 1
