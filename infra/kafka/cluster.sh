#!/usr/bin/env bash
# A local Apache Kafka (KRaft) on loopback, without Docker: incidents/kafka/local.py.
#   infra/kafka/cluster.sh fetch            jars from Maven Central into var/kafka (once)
#   infra/kafka/cluster.sh start [--brokers 3] [--heap 384m] [--fresh]
#   infra/kafka/cluster.sh status | stop
# Needs Java 17+ and, for the first fetch, Maven; uses the project's .venv (make setup).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${PYTHON:-.venv/bin/python}" -m incidents.kafka.local "$@"
