"""Checks a study must pass before anything is created in its run directory (docs/reliability.md).

A config that validates can still fail in a step: a dataset factory rejecting an option, a shift severity out of
range, an accelerator the machine lacks, a Ray address nobody answers. ``check_study`` finds these first, so a
refused run leaves no ``.lock``, ``config.yaml``, ``steps.jsonl`` or log behind.
"""

from __future__ import annotations

import inspect
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from uqseg.errors import ConfigError
from uqseg.experiments.config import BenchmarkConfig, train_config

RAY_CONNECT_TIMEOUT_S = 30.0
GPU_ACCELERATORS = ("cuda", "gpu")
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HTTP2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # length 0, type SETTINGS, no flags, stream 0
HTTP2_SETTINGS = 0x04


def check_dataset_options(name: str, options: dict[str, Any], root: str | None) -> None:
    """The options of dataset ``name`` bind to its registered factory, and its shift severities lie in range; a
    prepared dataset (``root``) is opened, which reads its manifest and checks its splits without loading them."""
    from uqseg.data.contract import _REGISTRY, available_datasets, get_dataset
    from uqseg.data.synthetic import chaksu, lidc
    from uqseg.data.synthetic.options import resolve_shift_severity
    from uqseg.experiments.paths import input_path

    given = dict(options, **({"root": str(input_path(root))} if root else {}))
    if name in available_datasets():
        try:
            inspect.signature(_REGISTRY[name]).bind(**given)
        except TypeError as err:
            hint = "" if root else f" (a prepared real dataset needs datasets.{name}.root)"
            raise ConfigError(f"datasets.{name}.options: {err}{hint}") from None
    defaults = {lidc.NAME: lidc.DEFAULT_SHIFT_SEVERITY, chaksu.NAME: chaksu.DEFAULT_SHIFT_SEVERITY}
    if name in defaults and "shift_severity" in options:
        resolve_shift_severity(f"datasets.{name}.options", options["shift_severity"], defaults[name])
    if root:
        get_dataset(name, **given)  # prepared data opens lazily: manifest and split shapes only


def check_accelerators(cfg: BenchmarkConfig) -> None:
    """Every training config's accelerator and the inference device exist on this machine."""
    import torch

    has_cuda = torch.cuda.is_available()
    for dataset in cfg.datasets:
        for au in sorted({au for au, _ in cfg.combinations()}):
            accelerator = train_config(cfg, dataset, au).accelerator
            if accelerator in GPU_ACCELERATORS and not has_cuda:
                raise ConfigError(f"train.accelerator is {accelerator!r} (dataset {dataset}, AU model {au}), but no "
                                  "CUDA device is available; use train.accelerator=cpu or auto")
            if accelerator == "mps" and not torch.backends.mps.is_available():
                raise ConfigError(f"train.accelerator is 'mps' (dataset {dataset}), but MPS is not available")
    if cfg.inference.device.startswith("cuda") and not has_cuda:
        raise ConfigError(f"inference.device is {cfg.inference.device!r}, but no CUDA device is available")


def ray_endpoint(address: str) -> tuple[str, int] | None:
    """The host and port a Ray address names (``host:port`` or ``ray://host:port``); None for ``auto``/``local``."""
    if address in ("auto", "local"):
        return None
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(f"--ray-address {address!r} must look like HOST:PORT or ray://HOST:PORT")
    return parts.hostname, port


def check_ray_address(address: str, timeout_s: float = RAY_CONNECT_TIMEOUT_S) -> None:
    """A gRPC server (Ray's GCS, or its client server for ``ray://``) answers at the Ray address within
    ``timeout_s``, else a ConfigError naming it: Ray itself would retry for minutes. The probe sends the HTTP/2
    connection preface and waits for the server's SETTINGS frame; an open port that never answers is refused."""
    endpoint = ray_endpoint(address)
    if endpoint is None:
        return
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection(endpoint, timeout=timeout_s) as conn:
            conn.sendall(HTTP2_PREFACE + HTTP2_EMPTY_SETTINGS)
            reply = b""
            while len(reply) < 9:
                conn.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = conn.recv(9 - len(reply))
                if not chunk:
                    break
                reply += chunk
    except OSError as err:
        raise ConfigError(f"--ray-address {address}: no Ray cluster answers there within {timeout_s:g} s "
                          f"({err.strerror or err})") from None
    if len(reply) < 9 or reply[3] != HTTP2_SETTINGS:
        raise ConfigError(f"--ray-address {address}: what answers there is not a Ray cluster")


def check_study(cfg: BenchmarkConfig) -> None:
    """Everything a study needs that the config's own validation cannot see (see the module docstring)."""
    for name, entry in cfg.datasets.items():
        check_dataset_options(name, dict(entry.options), entry.root)
    check_accelerators(cfg)
    ex = cfg.execution
    if ex.ray_address is not None and ex.executor != "ray":
        raise ConfigError("--ray-address is only used with --executor ray")
    if ex.executor == "ray":
        from uqseg.experiments.executors import import_ray

        import_ray()
        if ex.ray_address:
            check_ray_address(ex.ray_address)
