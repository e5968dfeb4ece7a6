# SPDX-License-Identifier: Apache-2.0
"""Run a cohort of cases through the pipeline on Dask and collect one summary row per case.

Each case runs in isolation (an exception becomes an error row), completed cases are skipped on a
re-run (a marker with the case hash in the case's output folder), and the table is written as
``summary.csv`` and ``summary.parquet``.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

__all__ = ["run_cohort", "case_hash", "case_name", "plan_threads", "SUMMARY_COLUMNS", "MARKER_NAME"]

#: Columns that come first in ``summary.csv``, in this order (a contract scripts rely on).
SUMMARY_COLUMNS = ("case", "status", "gradient_mmhg", "error")
#: File written into a case's output folder once it completed; holds the case hash and its row.
MARKER_NAME = "cohort-done.json"

_COMPLETED = ("ok", "not_converged")
_COHORT_COLUMNS = ("pipeline_status", "run_time_s", "skipped", "omp_threads", "case_path", "out_dir", "provenance",
                   "results")


# ----------------------------------------------------------------------------- case identity
def _referenced_files(value, base: Path, seen: set[Path], key: str = ""):
    """Existing files named by string values anywhere in a parsed case (relative to its folder,
    or ``shared:SUB/PATH`` in the shared data folder), and the files of a DICOM series folder
    named by an ``image.path``."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _referenced_files(v, base, seen, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _referenced_files(v, base, seen, key)
    elif isinstance(value, str) and value and len(value) < 4096 and "\n" not in value:
        try:
            if value.startswith("shared:"):
                from .config.schema import find_shared_data

                try:
                    p = find_shared_data(value.split(":", 1)[1], start=base)
                except FileNotFoundError:
                    return  # the pipeline reports it, naming the places it looked
            else:
                p = Path(value).expanduser()
                p = p if p.is_absolute() else base / p
            # a series folder is the image; any other folder a case names is not an input
            files = (sorted(x for x in p.rglob("*") if x.is_file()) if key == "image.path" and p.is_dir()
                     else [p] if p.is_file() else [])
            for f in files:
                f = f.resolve()
                if f not in seen:
                    seen.add(f)
                    yield f
        except OSError:
            return


def case_hash(case_path) -> str:
    """SHA-256 of a case file, of every existing file its values name (images, DICOM series,
    ``shared:`` data, CSVs, catalogs) and of the hemotwin version.

    A case whose TOML or inputs change, or a new hemotwin version, gets a new hash and is run
    again; a missing input simply contributes nothing (the case then fails in the pipeline with
    its own message).

    Parameters
    ----------
    case_path : str or Path
        The case TOML.

    Returns
    -------
    str
        Hex digest.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.toml"
    >>> _ = p.write_text('name = "x"\\n', encoding="utf-8")
    >>> len(case_hash(p))
    64
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(case_path)
    raw = path.read_bytes()
    h = hashlib.sha256()
    from . import __version__

    h.update(b"hemotwin\0" + __version__.encode() + b"\0case\0" + raw)
    try:
        parsed = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        parsed = {}
    base = path.resolve().parent
    for f in sorted(_referenced_files(parsed, base, set())):
        # the name relative to the case (a series' slices share their stems across folders)
        try:
            name = str(f.relative_to(base))
        except ValueError:
            name = f.name
        h.update(b"\0file\0" + name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def case_name(case_path) -> str:
    """Short name of a case: the file stem, or the folder name for ``.../<name>/case.toml``."""
    p = Path(case_path)
    return p.parent.name if p.stem == "case" and p.parent.name else p.stem


def _unique_names(paths) -> list[str]:
    names, used = [], {}
    for p in paths:
        n = case_name(p)
        k = used.get(n, 0)
        used[n] = k + 1
        names.append(n if k == 0 else f"{n}-{k + 1}")
    return names


# ----------------------------------------------------------------------------- threads
def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def plan_threads(workers: int | None, n_cases: int, cores: int | None = None) -> tuple[int, int]:
    """Workers and OpenMP threads per case so that workers x threads never exceeds the cores.

    Parameters
    ----------
    workers : int or None
        Requested worker processes; None: one per core, but no more than there are cases.
    n_cases : int
        Cases in the cohort.
    cores : int, optional
        Usable cores (default: this process's CPU affinity).

    Returns
    -------
    (workers, threads) : tuple of int

    Examples
    --------
    >>> plan_threads(2, 5, cores=8)
    (2, 4)
    >>> plan_threads(None, 3, cores=8)
    (3, 2)
    """
    cores = max(1, int(cores or _cores()))
    if workers is None:
        workers = max(1, min(cores, max(1, n_cases)))
    workers = max(1, int(workers))
    return workers, max(1, cores // workers)


def _limit_openmp_threads(n: int) -> None:
    """Set OpenMP's thread count in this (worker) process, also after the runtime has started."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        from . import _core  # noqa: F401  loads the OpenMP runtime the solver links
    except ImportError:
        return
    try:
        with open("/proc/self/maps") as fh:
            libs = {line.split()[-1] for line in fh if "omp" in line.rsplit("/", 1)[-1]}
    except OSError:
        return
    for lib in libs:
        try:
            ctypes.CDLL(lib).omp_set_num_threads(ctypes.c_int(n))
        except (OSError, AttributeError):
            continue


# ----------------------------------------------------------------------------- one case
def _scalar(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    try:  # numpy scalars
        return v.item()
    except (AttributeError, ValueError):
        return json.dumps(v, default=str)


def _flatten(d: dict, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = _scalar(v)
    return out


def _default_runner(case_path, out_dir):
    from .pipeline import run_case_summary

    return run_case_summary(case_path, out_dir)


def _run_one(name: str, case_path: str, case_out: str, chash: str, threads: int | None, runner):
    """Run one case on a worker; never raises (an error becomes the row's ``error``)."""
    if threads:
        _limit_openmp_threads(int(threads))
    row = {"case": name, "status": "error", "gradient_mmhg": math.nan, "error": "",
           "case_path": case_path, "out_dir": case_out, "skipped": False,
           "omp_threads": int(threads) if threads else None}
    t0 = time.perf_counter()
    try:
        Path(case_out).mkdir(parents=True, exist_ok=True)
        marker = Path(case_out) / MARKER_NAME
        if marker.exists():
            marker.unlink()
        summary = (runner or _default_runner)(case_path, case_out)
        summary = _flatten(dict(summary or {}))
    except Exception as exc:  # isolation: one failing case must not stop the cohort
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        row["error"] = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
        row["traceback"] = traceback.format_exc(limit=8)
        row["run_time_s"] = time.perf_counter() - t0
        return row
    run_time = time.perf_counter() - t0
    for k, v in summary.items():
        if k in ("case", "case_path", "out_dir", "skipped"):
            continue
        row[k] = v
    status = str(summary.get("status", "ok") or "ok").lower()
    row["pipeline_status"] = status
    # a completed run that did not meet its steady tolerance still has results: "ok" here, with
    # the pipeline's own status kept in pipeline_status for the reader to filter on
    row["status"] = "ok" if status in _COMPLETED else "error"
    if row["status"] == "error" and not row.get("error"):
        row["error"] = f"pipeline reported status {status!r}"
    row["error"] = row.get("error") or ""
    row.setdefault("run_time_s", run_time)
    if row.get("gradient_mmhg") is None:
        row["gradient_mmhg"] = math.nan
    for key, fname in (("provenance", "provenance.json"), ("results", "results.json")):
        if not row.get(key) and (Path(case_out) / fname).exists():
            row[key] = str(Path(case_out) / fname)
    if row["status"] == "ok":
        tmp = Path(case_out) / (MARKER_NAME + ".tmp")
        tmp.write_text(json.dumps({"case_hash": chash, "row": row}, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, Path(case_out) / MARKER_NAME)
    return row


def _completed_row(case_out: Path, chash: str):
    marker = case_out / MARKER_NAME
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("case_hash") != chash or data.get("row", {}).get("status") != "ok":
        return None
    # the results it points to must still be there (a user may have deleted them to force a re-run)
    if any(data["row"].get(k) and not Path(data["row"][k]).exists() for k in ("results", "provenance")):
        return None
    row = dict(data["row"])
    row["skipped"] = True
    return row


# ----------------------------------------------------------------------------- the cohort
def _progress(msg: str, enabled: bool):
    if enabled:
        print(f"cohort: {msg}", file=sys.stderr, flush=True)


def _frame(rows):
    import pandas as pd

    df = pd.DataFrame(rows)
    for col in SUMMARY_COLUMNS + _COHORT_COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["gradient_mmhg"] = pd.to_numeric(df["gradient_mmhg"], errors="coerce")
    df["error"] = df["error"].fillna("").astype(str)
    df["skipped"] = df["skipped"].fillna(False).astype(bool)
    rest = [c for c in df.columns if c not in SUMMARY_COLUMNS + _COHORT_COLUMNS]
    return df[list(SUMMARY_COLUMNS) + sorted(rest) + list(_COHORT_COLUMNS)]


def _write(df, out_dir: Path):
    import pandas as pd

    df.to_csv(out_dir / "summary.csv", index=False)
    pq = df.copy()
    for col in pq.columns:  # parquet needs one type per column: mixed objects become text
        if pq[col].dtype == object:
            vals = pq[col].dropna()
            if len({type(v) for v in vals}) > 1 or (len(vals) and not isinstance(vals.iloc[0], str)):
                if all(isinstance(v, (int, float, bool)) for v in vals):
                    pq[col] = pd.to_numeric(pq[col], errors="coerce")
                else:
                    pq[col] = pq[col].map(lambda v: None if v is None else str(v))
    pq.to_parquet(out_dir / "summary.parquet", index=False)


def run_cohort(case_paths, out_dir, client=None, workers=None, *, scheduler=None, progress=True,
               runner=None):
    """Run cases through :func:`hemotwin.pipeline.run_case_summary` on Dask; one row per case.

    Parameters
    ----------
    case_paths : sequence of str or Path
        Case TOML files.
    out_dir : str or Path
        Cohort folder: ``summary.csv``, ``summary.parquet`` and ``cases/<name>/`` (each case's
        pipeline output). With a remote scheduler it must be on a file system the workers share.
    client : distributed.Client, optional
        An existing Dask client to use (not closed here).
    workers : int, optional
        Worker processes of the embedded ``LocalCluster`` (default: one per core, at most one per
        case); each case then gets ``cores // workers`` OpenMP threads.
    scheduler : str, optional
        Address of an existing ``dask.distributed`` scheduler (``tcp://host:port``); used when no
        ``client`` is given. Threads per case are then ``cores // worker threads`` of each host.
    progress : bool
        Print one line per finished case to stderr.
    runner : callable, optional
        ``runner(case_path, out_dir) -> dict`` run for each case instead of the pipeline (it must
        be importable or picklable on the workers).

    Returns
    -------
    pandas.DataFrame
        One row per case, in the order given: ``case``, ``status`` (``ok``/``error``),
        ``gradient_mmhg``, ``error``, the pipeline's key results, ``run_time_s``, ``skipped``,
        ``omp_threads``, ``case_path``, ``out_dir``, ``provenance`` and ``results`` (paths).

    Examples
    --------
    >>> from hemotwin.cohort import run_cohort           # doctest: +SKIP
    >>> df = run_cohort(["a/case.toml", "b/case.toml"], "cohort-out", workers=2)  # doctest: +SKIP
    >>> df[["case", "status", "gradient_mmhg"]]          # doctest: +SKIP
    """
    from distributed import Client, LocalCluster, as_completed

    paths = [Path(p).expanduser().resolve() for p in case_paths]
    if not paths:
        raise ValueError("cohort: no case files given")
    out = Path(out_dir).expanduser().resolve()
    (out / "cases").mkdir(parents=True, exist_ok=True)
    names = _unique_names(paths)
    t_start = time.perf_counter()

    rows: dict[int, dict] = {}
    todo = []
    for i, (p, name) in enumerate(zip(paths, names)):
        case_out = out / "cases" / name
        try:
            chash = case_hash(p)
        except OSError as exc:  # unreadable case file: an error row, no worker needed
            rows[i] = {"case": name, "status": "error", "gradient_mmhg": math.nan,
                       "error": f"{type(exc).__name__}: {exc}", "case_path": str(p),
                       "out_dir": str(case_out), "skipped": False}
            continue
        done = _completed_row(case_out, chash)
        if done is not None:
            done["case"], done["case_path"], done["out_dir"] = name, str(p), str(case_out)
            rows[i] = done
            _progress(f"{name}: already completed, skipped", progress)
        else:
            todo.append((i, name, str(p), str(case_out), chash))

    own_cluster = own_client = None
    try:
        if todo:
            if client is None and scheduler:
                client = own_client = Client(scheduler, timeout="30s")
            threads_of = None
            if client is None:
                n_workers, threads = plan_threads(workers, len(todo))
                env = {"OMP_NUM_THREADS": str(threads)}
                own_cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           silence_logs=40, env=env)
                client = own_client = Client(own_cluster)
                threads_of = {w: threads for w in client.scheduler_info()["workers"]}
                _progress(f"{len(todo)} case(s) on a local cluster: {n_workers} worker(s) x "
                          f"{threads} OpenMP thread(s)", progress)
            else:
                threads_of = _threads_per_worker(client)
                _progress(f"{len(todo)} case(s) on {client.scheduler.address}: "
                          f"{len(threads_of)} worker(s)", progress)
            futures = {}
            for i, name, p, co, ch in todo:
                fut = client.submit(_run_one_here, name, p, co, ch, threads_of, runner,
                                    key=f"hemotwin-case-{i}-{name}-{ch[:12]}", pure=False)
                futures[fut] = (i, name, p, co)
            n_done = len(rows)
            for fut in as_completed(list(futures)):
                i, name, p, co = futures[fut]
                try:
                    row = fut.result()
                except Exception as exc:  # the worker itself died (crash, memory)
                    row = {"case": name, "status": "error", "gradient_mmhg": math.nan,
                           "error": f"{type(exc).__name__}: {exc}", "case_path": p,
                           "out_dir": co, "skipped": False}
                rows[i] = row
                n_done += 1
                extra = (f"gradient {row['gradient_mmhg']:.2f} mmHg"
                         if row["status"] == "ok" and row.get("gradient_mmhg") == row.get("gradient_mmhg")
                         else row.get("error", ""))
                status = row["status"]
                if status == "ok" and row.get("pipeline_status", "ok") != "ok":
                    status = f"ok but {row['pipeline_status']} (see its warnings column)"
                _progress(f"[{n_done}/{len(paths)}] {name}: {status} "
                          f"({row.get('run_time_s') or 0:.1f} s) {extra}", progress)
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()

    df = _frame([rows[i] for i in range(len(paths))])
    _write(df, out)
    n_ok = int((df["status"] == "ok").sum())
    unsettled = ""
    if "pipeline_status" in df:
        n_unsettled = int(((df["status"] == "ok") & (df["pipeline_status"].fillna("ok") != "ok")).sum())
        if n_unsettled:  # results exist, but a steady run missed its tolerance or a cycle its periodicity
            unsettled = f" ({n_unsettled} of them not converged: pipeline_status, warnings)"
    _progress(f"{n_ok}/{len(df)} ok{unsettled} in {time.perf_counter() - t_start:.1f} s; "
              f"summary: {out / 'summary.csv'}", progress)
    return df


def _threads_per_worker(client) -> dict:
    """OpenMP threads for a case on each worker: host cores // worker threads on that host."""
    info = client.scheduler_info()["workers"]
    cores = client.run(_cores)
    by_host: dict[str, int] = {}
    for addr, w in info.items():
        by_host[w["host"]] = by_host.get(w["host"], 0) + int(w.get("nthreads", 1))
    return {addr: max(1, int(cores.get(addr, 1)) // max(1, by_host[w["host"]]))
            for addr, w in info.items()}


def _run_one_here(name, case_path, case_out, chash, threads_of, runner):
    """Task body: look up this worker's thread budget, then run the case."""
    threads = None
    if threads_of:
        try:
            from distributed import get_worker

            threads = threads_of.get(get_worker().address)
        except ValueError:
            threads = None
        if threads is None:
            threads = min(threads_of.values())
    return _run_one(name, case_path, case_out, chash, threads, runner)
