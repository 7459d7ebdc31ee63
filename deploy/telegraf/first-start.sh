#!/bin/sh
# Hazewatch: the Telegraf image's entrypoint, in front of the official one (given as the first argument,
# /entrypoint.sh, which drops root and runs the command). It decides whether the simulator replays history.
#
# The configs default PURPLEAIR_SIM_START to -6h: a first start replays the last 6 hours at once, so the
# dashboard is filled within a minute. A restart must not do that again: the simulator would write a
# second, different history between the stored readings of those hours (the readings' times come from
# each sensor's last_seen, which does not repeat). The processor's state in HAZEWATCH_STATE_DIR (the
# compose volume) is what a start before this one leaves behind, so with it the fleet starts in real time
# at the next step: the current step may already be stored (a restart takes seconds), and the same
# reading simulated again differs, which Prometheus refuses as a duplicate sample. An explicit
# PURPLEAIR_SIM_START is always obeyed.
set -e
# purpleair.conf's step, 2m (TestFirstStartScript holds the two equal).
step_seconds=120
state="${HAZEWATCH_STATE_DIR:-/var/lib/hazewatch}"
if [ -z "${PURPLEAIR_SIM_START:-}" ] && { [ -s "$state/anomaly-state.bin" ] || [ -s "$state/telegraf-state.json" ]; }; then
	next=$(( ($(date -u +%s) / step_seconds + 1) * step_seconds ))
	PURPLEAIR_SIM_START=$(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ)
	export PURPLEAIR_SIM_START
	echo "hazewatch: state from an earlier start in $state: the simulator runs in real time from $PURPLEAIR_SIM_START, without replaying history" >&2
fi
exec "$@"
