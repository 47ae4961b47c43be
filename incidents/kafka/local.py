"""A local Apache Kafka (KRaft, 1 or 3 nodes) on loopback, without Docker.

The embedded broker (tansu, incidents/kafka/embedded.py) stays the default for the demo
and a laptop; this is the real thing, for the tests on both brokers, `make
bench` and anyone who wants to try the pipeline on Apache Kafka by hand. The
broker's jars come from Maven Central through Maven (``infra/kafka/pom.xml``),
copied once into ``var/kafka/<version>/libs``; every node is one JVM with
``process.roles=broker,controller`` (combined mode) and a small heap.

    python -m incidents.kafka.local start --brokers 3   # or infra/kafka/cluster.sh start 3
    python -m incidents.kafka.local stop

Needs Java 17 or newer, and Maven for the first download.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from incidents.kafka.embedded import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]
POM = ROOT / "infra" / "kafka" / "pom.xml"
CACHE = ROOT / "var" / "kafka"
#: ports of `start` from the command line: brokers 29092.., controllers 29192..
CLI_PORT = 29092


class KafkaUnavailable(RuntimeError):
    """Java, Maven or the broker's jars are not there: say why in one line."""


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version the pom asks for (one place to change it)."""
    try:
        text = pom.read_text()
    except OSError as exc:
        msg = f"no {pom} ({exc.strerror}): run from a clone of the project"
        raise KafkaUnavailable(msg) from None
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", text)
    if not m:
        raise KafkaUnavailable(f"{pom} names no <kafka.version>")
    return m.group(1).strip()


def java_major(java: str = "java") -> int | None:
    """The major version of the `java` on PATH (8 for 1.8), None when there is none."""
    if shutil.which(java) is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def libs_dir(version: str | None = None, cache: Path = CACHE) -> Path:
    return cache / (version or kafka_version()) / "libs"


def unavailable_reason(version: str | None = None, cache: Path = CACHE) -> str | None:
    """Why a local Kafka cannot run here, or None when it can."""
    try:
        libs = libs_dir(version, cache)
    except KafkaUnavailable as exc:
        return str(exc)
    major = java_major()
    if major is None:
        return "no Java on PATH (Apache Kafka 4 needs Java 17 or newer)"
    if major < 17:
        return f"Java {major} on PATH; Apache Kafka 4 needs Java 17 or newer"
    if not (libs / ".complete").exists() and shutil.which("mvn") is None:
        return "no Maven (mvn) on PATH to fetch Apache Kafka's jars from Maven Central"
    return None


def fetch(version: str | None = None, cache: Path = CACHE, quiet: bool = True) -> Path:
    """Copy the broker's jars from Maven Central into the cache, once; return their folder."""
    version = version or kafka_version()
    libs = libs_dir(version, cache)
    if (libs / ".complete").exists():
        return libs
    if shutil.which("mvn") is None:
        raise KafkaUnavailable("no Maven (mvn) on PATH to fetch Apache Kafka's jars")
    partial = libs.with_name("libs.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn",
        "-B",
        *(["-q"] if quiet else []),
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-Dkafka.version={version}",
        f"-DoutputDirectory={partial}",
    ]
    proc = subprocess.run(cmd, capture_output=quiet, text=True)
    if proc.returncode != 0 or not any(partial.glob("kafka_2.13-*.jar")):
        tail = " | ".join((proc.stdout or "").strip().splitlines()[-3:]) if quiet else ""
        raise KafkaUnavailable(
            f"mvn could not fetch org.apache.kafka:kafka_2.13:{version} "
            f"(exit {proc.returncode}){': ' + tail if tail else ''}"
        )
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    (libs / ".complete").write_text(f"{version}\n")
    return libs


LOG4J2 = """\
# Written by incidents/kafka/local.py: one server.log per node, rolled at 20 MB.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
"""


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    pid: int | None = None  # of a node started by another process (the CLI's state file)

    @property
    def config(self) -> Path:
        return self.dir / "server.properties"

    @property
    def log(self) -> Path:
        return self.dir / "logs" / "server.log"

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and _is_our_kafka(self.pid, self.config)

    def tail(self, n: int = 20) -> str:
        for path in (self.log, self.dir / "stdout.log"):
            with contextlib.suppress(OSError):
                lines = path.read_text(errors="replace").splitlines()
                if lines:
                    return "\n".join(lines[-n:])
        return "(no log yet)"


def _is_our_kafka(pid: int, config: Path) -> bool:
    """The process is a Kafka node of this cluster (a pid from a state file can be reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline and str(config).encode() in cmdline


@dataclass
class LocalKafka:
    """A KRaft cluster of 1 or 3 combined broker+controller nodes under ``root``.

    Topics get replication factor min(3, brokers) by default and, on 3 nodes,
    ``min.insync.replicas=2``: with ``acks=all`` a write survives the loss of any
    one node. Auto-creation of topics is off, as on most managed clusters, so
    whatever the pipeline needs it must create itself.
    """

    root: Path
    brokers: int = 1
    host: str = "127.0.0.1"
    base_port: int = 0  # 0: free ports
    heap: str = "384m"
    version: str = ""
    cache: Path = CACHE
    overrides: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.brokers not in (1, 3):
            raise ValueError("a local cluster has 1 or 3 nodes")
        self.version = self.version or kafka_version()

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{self.host}:{n.port}" for n in self.nodes)

    @property
    def replication_factor(self) -> int:
        return min(3, self.brokers)

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.node_id == node_id)

    # -- configuration -------------------------------------------------------------

    def _plan(self) -> None:
        if self.nodes:
            return
        ids = range(1, self.brokers + 1)
        for i in ids:
            if self.base_port:
                port, cport = self.base_port + i - 1, self.base_port + 100 + i - 1
            else:
                port, cport = free_port(self.host), free_port(self.host)
            self.nodes.append(Node(i, port, cport, self.root / f"node-{i}"))

    def properties(self, node: Node) -> dict[str, str]:
        rf = self.replication_factor
        voters = ",".join(f"{n.node_id}@{self.host}:{n.controller_port}" for n in self.nodes)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{self.host}:{node.port},"
            f"CONTROLLER://{self.host}:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{node.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(node.dir / "data"),
            "num.partitions": "1",
            "default.replication.factor": str(rf),
            "min.insync.replicas": "2" if rf >= 3 else "1",
            "offsets.topic.replication.factor": str(rf),
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": str(min(2, rf)),
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": str(rf),
            "share.coordinator.state.topic.min.isr": str(min(2, rf)),
            "auto.create.topics.enable": "false",
            "unclean.leader.election.enable": "false",
            # Leaders move only when a node goes away (or a test moves them), not five
            # minutes after a node came back: the preferred-leader election would move
            # group coordinators and leaders in the middle of whatever runs then.
            "auto.leader.rebalance.enable": "false",
            # A group's first member does not wait 3 s for others (tests form many groups).
            "group.initial.rebalance.delay.ms": "0",
            # Small machine: few threads, small buffers and indexes.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.replica.fetchers": "1",
            "background.threads": "2",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "log.index.size.max.bytes": str(1024 * 1024),
            # Compaction and retention act within seconds (tests check both).
            "log.cleaner.backoff.ms": "1000",
            "log.retention.check.interval.ms": "5000",
            "log.segment.delete.delay.ms": "5000",
        }
        props.update(self.overrides)
        return props

    def _write_configs(self) -> None:
        (self.root / "log4j2.properties").write_text(LOG4J2)
        for n in self.nodes:
            (n.dir / "logs").mkdir(parents=True, exist_ok=True)
            n.config.write_text(
                "# Written by incidents/kafka/local.py\n"
                + "".join(f"{k}={v}\n" for k, v in self.properties(n).items())
            )

    def _java(self, *args: str, heap: str | None = None, logs: Path | None = None) -> list[str]:
        libs = libs_dir(self.version, self.cache)
        return [
            "java",
            f"-Xmx{heap or self.heap}",
            "-Xms64m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:ParallelGCThreads=1",
            "-XX:ConcGCThreads=1",
            "-XX:CICompilerCount=2",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={logs or self.root}",
            "-cp",
            f"{libs}/*",
            *args,
        ]

    def _format(self) -> None:
        """Format each node's storage once (KRaft needs a cluster id in every log dir)."""
        cluster_id = None
        id_file = self.root / "cluster.id"
        if id_file.exists():
            cluster_id = id_file.read_text().strip()
        else:
            cluster_id = _kraft_cluster_id()
            id_file.write_text(cluster_id + "\n")
        for n in self.nodes:
            if (n.dir / "data" / "meta.properties").exists():
                continue
            cmd = self._java(
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(n.config),
                heap="128m",
                logs=n.dir / "logs",
            )
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                raise KafkaUnavailable(
                    f"formatting node {n.node_id} failed: "
                    + " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
                )

    # -- life cycle ----------------------------------------------------------------

    def start(self, timeout: float = 120.0, detach: bool = False) -> LocalKafka:
        """Fetch, configure, format and start every node; return once all answer."""
        fetch(self.version, self.cache)
        self.root.mkdir(parents=True, exist_ok=True)
        self._plan()
        for n in self.nodes:
            for port in (n.port, n.controller_port):
                if port_open(self.host, port):
                    raise KafkaUnavailable(f"port {self.host}:{port} is already in use")
        self._write_configs()
        self._format()
        for n in self.nodes:
            self._launch(n, detach)
        self.save_state()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, n: Node, detach: bool = False) -> None:
        out = open(n.dir / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            n.proc = subprocess.Popen(
                self._java("kafka.Kafka", str(n.config), logs=n.dir / "logs"),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            out.close()
        n.pid = n.proc.pid
        if detach:
            n.proc = None  # the CLI leaves it running; the state file keeps its pid

    def save_state(self) -> None:
        state = {
            "version": self.version,
            "brokers": self.brokers,
            "host": self.host,
            "bootstrap": self.bootstrap,
            "nodes": [
                {
                    "id": n.node_id,
                    "port": n.port,
                    "controller_port": n.controller_port,
                    "pid": n.pid,
                }
                for n in self.nodes
            ],
        }
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def from_state(cls, root: Path) -> LocalKafka | None:
        try:
            state = json.loads((root / "cluster.json").read_text())
        except (OSError, ValueError):
            return None
        k = cls(root=root, brokers=state["brokers"], host=state["host"], version=state["version"])
        k.nodes = [
            Node(n["id"], n["port"], n["controller_port"], root / f"node-{n['id']}", pid=n["pid"])
            for n in state["nodes"]
        ]
        return k

    def registered(self, timeout: float = 3.0) -> set[int]:
        """Node ids the cluster's metadata lists as brokers right now."""
        alive = [n for n in self.nodes if port_open(self.host, n.port)]
        if not alive:
            return set()
        admin = AdminClient(
            {
                "bootstrap.servers": ",".join(f"{self.host}:{n.port}" for n in alive),
                "log_level": 0,
                "socket.connection.setup.timeout.ms": 2000,
            }
        )
        try:
            md = admin.list_topics(timeout=timeout)
        except Exception:
            return set()
        return set(md.brokers)

    def wait_ready(self, timeout: float = 120.0, nodes: list[Node] | None = None) -> None:
        """Until every node (or the given ones) is a registered broker in the metadata."""
        want = {n.node_id for n in (nodes or self.nodes)}
        deadline = time.monotonic() + timeout
        while True:
            for n in nodes or self.nodes:
                if not n.alive():
                    raise KafkaUnavailable(
                        f"Kafka node {n.node_id} exited at start; its log:\n{n.tail()}"
                    )
            # A node killed a moment ago is still in the metadata until its session
            # times out: its own listener being open again is what says it is back.
            listening = all(port_open(self.host, n.port) for n in nodes or self.nodes)
            if listening and want <= self.registered():
                return
            if time.monotonic() > deadline:
                raise KafkaUnavailable(
                    f"Kafka nodes {sorted(want)} did not all register within {timeout:.0f} s"
                )
            time.sleep(0.5)

    def kill(self, node_id: int) -> None:
        """kill -9 of one node: no controlled shutdown, no flush."""
        n = self.node(node_id)
        self._signal(n, signal.SIGKILL)
        self._wait_exit(n, 10)

    def stop_node(self, node_id: int, timeout: float = 30.0) -> None:
        """A clean stop of one node (SIGTERM: controlled shutdown), kill -9 after timeout."""
        n = self.node(node_id)
        self._signal(n, signal.SIGTERM)
        if not self._wait_exit(n, timeout):
            self._signal(n, signal.SIGKILL)
            self._wait_exit(n, 10)

    def start_node(self, node_id: int, timeout: float = 120.0) -> None:
        n = self.node(node_id)
        if n.alive():
            return
        self._launch(n)
        self.save_state()
        self.wait_ready(timeout, nodes=[n])

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every node: SIGTERM to all, then kill -9 whatever is left after timeout."""
        for n in self.nodes:
            self._signal(n, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for n in self.nodes:
            if not self._wait_exit(n, max(0.1, deadline - time.monotonic())):
                self._signal(n, signal.SIGKILL)
                self._wait_exit(n, 10)
        with contextlib.suppress(OSError):
            self.state_file.unlink()

    def _signal(self, n: Node, sig: int) -> None:
        if not n.alive():
            return
        pid = n.proc.pid if n.proc is not None else n.pid
        assert pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_exit(self, n: Node, timeout: float) -> bool:
        if n.proc is not None:
            try:
                n.proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while n.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _kraft_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="infra/kafka/cluster.sh",
        description="A local Apache Kafka (KRaft) on loopback: fetch, start, stop, status.",
    )
    p.add_argument("command", choices=["fetch", "start", "stop", "status"])
    p.add_argument("--brokers", type=int, choices=[1, 3], default=1, help="nodes (default 1)")
    p.add_argument(
        "--dir", type=Path, default=None, help="cluster folder (default var/kafka/cluster-N)"
    )
    p.add_argument(
        "--port",
        type=int,
        default=CLI_PORT,
        help=f"first broker port (default {CLI_PORT}; controllers at +100)",
    )
    p.add_argument("--heap", default="384m", help="-Xmx of each node (default 384m)")
    p.add_argument("--fresh", action="store_true", help="start with empty storage")
    args = p.parse_args(argv)
    root = args.dir or CACHE / f"cluster-{args.brokers}"
    try:
        if args.command == "fetch":
            reason = unavailable_reason()
            if reason:
                raise KafkaUnavailable(reason)
            print(f"Apache Kafka {kafka_version()} jars in {fetch(quiet=False)}")
            return 0
        if args.dir is None and args.command in ("stop", "status"):
            # whichever cluster is running from var/kafka (started with 1 or 3 nodes)
            for candidate in sorted(CACHE.glob("cluster-*")):
                found = LocalKafka.from_state(candidate)
                if found is not None and any(n.alive() for n in found.nodes):
                    root = candidate
                    break
        running = LocalKafka.from_state(root)
        if args.command == "status":
            if running is None or not any(n.alive() for n in running.nodes):
                print(f"no local Kafka running from {root}")
                return 1
            up = [n.node_id for n in running.nodes if n.alive()]
            print(f"Apache Kafka {running.version}: nodes {up} of {running.brokers} up")
            print(f"INCIDENTS_KAFKA_BOOTSTRAP={running.bootstrap}")
            return 0
        if args.command == "stop":
            if running is None:
                print(f"no local Kafka running from {root}")
                return 0
            running.stop()
            print(f"stopped the local Kafka in {root}")
            return 0
        if running is not None and any(n.alive() for n in running.nodes):
            print(f"already running: INCIDENTS_KAFKA_BOOTSTRAP={running.bootstrap}")
            return 0
        reason = unavailable_reason()
        if reason:
            raise KafkaUnavailable(reason)
        if args.fresh:
            shutil.rmtree(root, ignore_errors=True)
        k = LocalKafka(root=root, brokers=args.brokers, base_port=args.port, heap=args.heap)
        print(f"starting Apache Kafka {k.version}, {k.brokers} node(s), -Xmx{k.heap} each …")
        k.start(detach=True)
        print(f"ready. Point the pipeline at it:\n  export INCIDENTS_KAFKA_BOOTSTRAP={k.bootstrap}")
        if k.brokers == 3:
            print("  export INCIDENTS_TOPICS_REPLICATION_FACTOR=3")
        print(f"logs in {root}/node-*/logs; stop it with: infra/kafka/cluster.sh stop")
        return 0
    except KafkaUnavailable as exc:
        print(f"local kafka: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
