#!/bin/sh
# The SIPp load benchmark of sipwire against Kamailio: see bench/sipload.py (--help).
#   bench/run.sh --quick                       # ~1 minute smoke run
#   bench/run.sh                               # full run, under ~10 minutes
#   bench/run.sh --only sipwire --sipwire-args "--workers 2"
exec python3 "$(dirname "$0")/sipload.py" "$@"
