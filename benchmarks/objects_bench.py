"""Objects benchmark: decode, encode and validate a realistic Pod and Deployment, beside JSON.

Printed figures, not tests. One run; each figure is the median of ``--reps`` repetitions:

* decode/s: ``from_json(bytes)`` (json.loads + typed decode, strict), floor ``json.loads``;
* encode/s: ``to_json(obj)`` (typed encode + json.dumps), floor ``json.dumps`` of the same dict;
* validate/s: ``validate(obj)`` (no floor; Kubernetes' rules over the whole object);
* defaults/s: ``apply_defaults`` on an object that still needs them;
* bytes per decoded Pod: tracemalloc growth while N decoded Pods are held, per Pod, beside the
  same for N ``json.loads`` dicts (the floor);
* sharing decode (``share=True``, as the API layer and its informer caches decode): bytes per
  Pod while N Pods are held that differ as the Pods of one ReplicaSet do (name, uid, podIP,
  containerID, startTime; then also every other timestamp), beside the same N decoded without
  sharing; decode/s of those N
  distinct Pods, held (the informer's case), and of one Pod decoded and dropped over and over
  (the worst case: nothing alive to share with), each beside the unshared decode;
* safe sharing: the cost of the choice (immutable objects + evolve) beside its alternative
  (copy-on-read, ``copy.deepcopy`` of the object on every read): ``evolve`` one label per write
  vs ``deepcopy`` per read.

Usage: python benchmarks/objects_bench.py [--reps N] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable

from kcore.objects import apply_defaults, evolve, from_json, from_yaml, to_dict, to_json, validate

POD_YAML = """
apiVersion: v1
kind: Pod
metadata:
  name: web-7d4b9c8f6d-x2x9k
  generateName: web-7d4b9c8f6d-
  namespace: shop
  uid: 0d6f9a3e-5a1b-4c1e-9a7e-6a8f1c2b3d4e
  resourceVersion: "482913"
  creationTimestamp: "2024-05-01T12:00:00Z"
  labels: {app: web, pod-template-hash: 7d4b9c8f6d, tier: frontend}
  annotations: {prometheus.io/scrape: "true", prometheus.io/port: "9102"}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d4b9c8f6d,
     uid: 5b0c1d2e-3f4a-4b5c-8d9e-0f1a2b3c4d5e, controller: true, blockOwnerDeletion: true}
spec:
  containers:
  - name: web
    image: registry.example.com/shop/web:1.24.3
    args: ["--port=8080", "--log-level=info"]
    ports:
    - {name: http, containerPort: 8080, protocol: TCP}
    - {name: metrics, containerPort: 9102, protocol: TCP}
    env:
    - {name: MODE, value: production}
    - name: POD_IP
      valueFrom: {fieldRef: {apiVersion: v1, fieldPath: status.podIP}}
    - name: DB_PASSWORD
      valueFrom: {secretKeyRef: {name: db, key: password}}
    resources:
      requests: {cpu: 250m, memory: 256Mi}
      limits: {cpu: "1", memory: 512Mi}
    readinessProbe:
      httpGet: {path: /healthz, port: http, scheme: HTTP}
      initialDelaySeconds: 5
      periodSeconds: 10
      timeoutSeconds: 1
      successThreshold: 1
      failureThreshold: 3
    livenessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 20
      timeoutSeconds: 1
      successThreshold: 1
      failureThreshold: 3
    volumeMounts:
    - {name: config, mountPath: /etc/web, readOnly: true}
    - {name: cache, mountPath: /var/cache/web}
    imagePullPolicy: IfNotPresent
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  volumes:
  - name: config
    configMap: {name: web-config, defaultMode: 420}
  - name: cache
    emptyDir: {sizeLimit: 1Gi}
  restartPolicy: Always
  terminationGracePeriodSeconds: 30
  dnsPolicy: ClusterFirst
  serviceAccountName: web
  nodeName: node-17
  schedulerName: default-scheduler
  securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000}
  tolerations:
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute,
     tolerationSeconds: 300}
  enableServiceLinks: true
status:
  phase: Running
  conditions:
  - {type: Initialized, status: "True", lastTransitionTime: "2024-05-01T12:00:01Z"}
  - {type: Ready, status: "True", lastTransitionTime: "2024-05-01T12:00:09Z"}
  - {type: ContainersReady, status: "True", lastTransitionTime: "2024-05-01T12:00:09Z"}
  - {type: PodScheduled, status: "True", lastTransitionTime: "2024-05-01T12:00:00Z"}
  hostIP: 10.0.3.17
  podIP: 10.244.3.41
  podIPs: [{ip: 10.244.3.41}]
  startTime: "2024-05-01T12:00:01Z"
  qosClass: Burstable
  containerStatuses:
  - name: web
    state: {running: {startedAt: "2024-05-01T12:00:04Z"}}
    ready: true
    restartCount: 0
    image: registry.example.com/shop/web:1.24.3
    imageID: registry.example.com/shop/web@sha256:4f1c9d0e7b2a
    containerID: containerd://9b8f7e6d5c4b3a2910
    started: true
"""

DEPLOYMENT_YAML = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web, tier: frontend}
    spec:
      containers:
      - name: web
        image: registry.example.com/shop/web:1.24.3
        ports: [{name: http, containerPort: 8080}]
        resources:
          requests: {cpu: 250m, memory: 256Mi}
          limits: {cpu: "1", memory: 512Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
"""


def rate(fn: Callable[[], object], n: int, reps: int) -> float:
    """Calls per second of ``fn``: the median of ``reps`` timed loops of ``n`` calls."""
    rates = []
    for _ in range(reps):
        gc.collect()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def bytes_each(make: Callable[[], object], n: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = [make() for _ in range(n)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return (after - before) / n


def held_rate(decode: Callable[[bytes], object], documents: list[bytes], reps: int) -> float:
    """Decodes per second of ``documents``, every result held until the pass ends."""
    rates = []
    for _ in range(reps):
        gc.collect()
        start = time.perf_counter()
        held = [decode(document) for document in documents]
        rates.append(len(documents) / (time.perf_counter() - start))
        del held
    return statistics.median(rates)


def replica_pods(pod: object, count: int, every_time: bool = False) -> list[bytes]:
    """``count`` JSON Pods of one ReplicaSet: own name, uid, IPs, container ID, start time
    (and with ``every_time`` their own creation, condition and container start times too)."""
    documents = []
    for number in range(count):
        doc = to_dict(pod)
        doc["metadata"]["name"] = f"web-7d4b9c8f6d-{number:05d}"
        doc["metadata"]["uid"] = f"0d6f9a3e-5a1b-4c1e-9a7e-{number:012d}"
        ip = f"10.{244 + number // 65536}.{number // 256 % 256}.{number % 256}"
        doc["status"]["podIP"], doc["status"]["podIPs"] = ip, [{"ip": ip}]
        doc["status"]["containerStatuses"][0]["containerID"] = f"containerd://{number:018x}"
        clock = f"{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"
        doc["status"]["startTime"] = f"2024-05-02T{clock}Z"
        if every_time:
            doc["metadata"]["creationTimestamp"] = f"2024-05-03T{clock}Z"
            for offset, condition in enumerate(doc["status"]["conditions"]):
                condition["lastTransitionTime"] = f"2024-05-0{4 + offset % 2}T{clock}Z"
            state = doc["status"]["containerStatuses"][0]["state"]
            state["running"]["startedAt"] = f"2024-05-06T{clock}Z"
        documents.append(json.dumps(doc, separators=(",", ":")).encode())
    return documents


def sharing_figures(pod: object, count: int, reps: int) -> None:
    documents = replica_pods(pod, count)
    print(f"-- sharing decode ({count:,} Pods of one ReplicaSet; floor: share=False)")
    unshared = bytes_each_of(lambda d: from_json(d), documents)
    shared = bytes_each_of(lambda d: from_json(d, share=True), documents)
    row("bytes per Pod, share=True", shared, unshared, " B")
    every_time = replica_pods(pod, count, every_time=True)
    shared = bytes_each_of(lambda d: from_json(d, share=True), every_time)
    row("  ... and every timestamp differs", shared, unshared, " B")
    floor = held_rate(from_json, documents, reps)
    row("decode/s share=True, held", held_rate(share, documents, reps), floor)
    data = documents[0]
    floor = rate(lambda: from_json(data), count, reps)
    row("decode/s share=True, dropped", rate(lambda: share(data), count, reps), floor)


def share(data: bytes) -> object:
    return from_json(data, share=True)


def bytes_each_of(decode: Callable[[bytes], object], documents: list[bytes]) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = [decode(document) for document in documents]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return (after - before) / len(documents)


def row(name: str, value: float, floor: float | None, unit: str = "/s") -> None:
    ratio = f"{value / floor:8.3f}x" if floor else " " * 9
    floor_text = f"{floor:>14,.0f}" if floor else " " * 14
    print(f"{name:<34}{value:>14,.0f}{unit:<4}{floor_text}  {ratio}")


def kind_figures(label: str, obj: object, n: int, reps: int) -> None:
    data = to_json(obj).encode()
    as_dict = to_dict(obj)
    print(f"-- {label} ({len(data)} JSON bytes)")
    floor = rate(lambda: json.loads(data), n, reps)
    row("decode vs json.loads", rate(lambda: from_json(data), n, reps), floor)
    floor = rate(lambda: json.dumps(as_dict), n, reps)
    row("encode vs json.dumps", rate(lambda: to_json(obj), n, reps), floor)
    row("validate", rate(lambda: validate(obj), n, reps), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    n = 2_000 if args.quick else 20_000
    reps = args.reps

    (pod,) = from_yaml(POD_YAML)
    (deployment,) = from_yaml(DEPLOYMENT_YAML)
    print(f"{'figure':<34}{'kcore':>14}    {'floor':>14}  {'ratio':>9}")
    for label, obj in (("Pod", pod), ("Deployment", apply_defaults(deployment))):
        kind_figures(label, obj, n, reps)
    raw = deployment  # not yet defaulted
    row("apply_defaults (Deployment)", rate(lambda: apply_defaults(raw), n, reps), None)

    data = to_json(pod).encode()
    count = 2_000 if args.quick else 10_000
    per_pod = bytes_each(lambda: from_json(data), count)
    per_dict = bytes_each(lambda: json.loads(data), count)
    print("-- memory")
    row("bytes per decoded Pod vs dict", per_pod, per_dict, " B")

    sharing_figures(pod, count, reps)

    print("-- safe sharing (chosen: immutable + evolve; alternative: copy-on-read)")
    write = rate(lambda: evolve(pod, metadata__labels={"app": "web", "x": "1"}), n, reps)
    read_copy = rate(lambda: copy.deepcopy(pod), max(n // 10, 100), reps)
    row("evolve one label (per write)", write, None)
    row("deepcopy per read (alternative)", read_copy, None)
    shared_read = rate(lambda: pod.spec.containers[0].image, n * 10, reps)
    row("shared read (chosen: no copy)", shared_read, read_copy)


if __name__ == "__main__":
    main()
