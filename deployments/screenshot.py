"""Screenshots of what operations staff see in the Prefect UI (headless Chromium).

With the main job running (``make demo``), ``make screenshot`` (or
``python deployments/screenshot.py``) saves PNGs under ``data/screenshots/``:

- ``deployments.png``: the deployments page (the cycles, backfill, outbox);
- ``monthly-analysis-deployment.png``: the monthly analysis deployment's upcoming
  runs, on the working-day-adjusted dates (2026-12-08, 2027-01-06, ...);
- ``rule-on-appeal-form.png``: the ruling form (``rule_on_appeal/ruling-form``'s custom
  run page), its fields titled in Chinese;
- ``<run>-artifacts.png``: the Artifacts tab of the cycle run that published
  ``--run``'s artifacts (default ``monthly-analysis-2026-03``);
- ``<run>-report.png``: that run's report artifact as the office reads it;
- ``unit-<code>-<year>.png``: the latest unit-year artifact (one unit's whole year).

Times are shown in Asia/Shanghai (``TZ`` of the browser).

Needs Chromium (``/usr/bin/chromium``) and CJK fonts for the Chinese text; on
Debian/Ubuntu: ``sudo apt-get install -y chromium fonts-noto-cjk``. Chromium runs
headless, sandbox off (containers), with a fresh profile and no background
networking, sync, component updates or first-run pages.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]
INSTALL_HINT = "install Chromium and CJK fonts: sudo apt-get install -y chromium fonts-noto-cjk"


def find_chromium(explicit: str | None = None) -> str:
    for candidate in (explicit, "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise SystemExit(f"no Chromium found; {INSTALL_HINT}")


def capture(chromium: str, url: str, out: Path, *, width: int, height: int, wait_ms: int) -> Path:
    """One PNG of ``url`` after ``wait_ms`` of (virtual) time for the UI to load its data."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="assess-chromium-") as profile:
        argv = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--virtual-time-budget={wait_ms}",
            f"--screenshot={out}",
            url,
        ]
        env = {**os.environ, "TZ": "Asia/Shanghai"}  # times as the office reads them
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, check=False, env=env
        )
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"chromium failed on {url} ({done.returncode}): {done.stderr[-800:]}")
    return out


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{api}{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def latest_artifact(api: str, key: str) -> dict[str, Any] | None:
    """The latest artifact with ``key`` (it names the run that produced it)."""
    found = _post(
        api,
        "/artifacts/filter",
        {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1},
    )
    return dict(found[0]) if found else None


def find_deployment(api: str, flow: str, name: str) -> dict[str, Any] | None:
    response = httpx.get(f"{api}/deployments/name/{flow}/{name}", timeout=10)
    return dict(response.json()) if response.status_code == 200 else None


def pages(ui: str, run_key: str) -> list[tuple[str, str, int]]:
    """(file name, URL, window height) of each screenshot.

    The default (V1) UI for the deployments and the report; the V2 UI (``/v2``) for
    the deployment's upcoming runs and the run's Artifacts tab, since only it opens
    a tab from the URL (``?tab=``).
    """
    api = f"{ui}/api"
    table = latest_artifact(api, run_key)
    if table is None or not table.get("flow_run_id"):
        raise SystemExit(f"no artifact {run_key!r} yet: start `make demo` and wait for its runs")
    out = [("deployments", f"{ui}/deployments", 1000)]
    deployment = find_deployment(api, "monthly_analysis", "monthly-analysis")
    if deployment:
        url = f"{ui}/v2/deployments/deployment/{deployment['id']}?tab=Upcoming"
        out.append(("monthly-analysis-deployment", url, 1000))
    ruling = find_deployment(api, "rule_on_appeal", "ruling-form")
    if ruling:  # the form the office fills, with its Chinese titles (flows/forms.py)
        out.append(("rule-on-appeal-form", f"{ui}/deployments/deployment/{ruling['id']}/run", 1400))
    run_url = f"{ui}/v2/runs/flow-run/{table['flow_run_id']}?tab=Artifacts"
    out.append((f"{run_key}-artifacts", run_url, 1000))
    report = latest_artifact(api, f"{run_key}-report") or table
    out.append((str(report["key"]), f"{ui}/artifacts/artifact/{report['id']}", 1900))
    unit_year = latest_unit_year(api)
    if unit_year:  # one unit's year, as operations staff find it by key (unit-c04-2026)
        out.append((str(unit_year["key"]), f"{ui}/artifacts/artifact/{unit_year['id']}", 1900))
    return out


def latest_unit_year(api: str) -> dict[str, Any] | None:
    """The latest unit-year artifact (``unit-<code>-<year>``), if a monthly run made one."""
    found = _post(
        api,
        "/artifacts/filter",
        {"artifacts": {"key": {"like_": "unit-"}}, "sort": "CREATED_DESC", "limit": 1},
    )
    return found[0] if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ui", default="http://127.0.0.1:4200", help="the Prefect UI's URL")
    parser.add_argument("--run", default="monthly-analysis-2026-03", help="cycle run to show")
    parser.add_argument("--out", type=Path, default=Path("data/screenshots"))
    parser.add_argument("--chromium", default=None, help="path of the Chromium binary")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--wait-ms", type=int, default=15000, help="time for the UI to load")
    args = parser.parse_args(argv)

    chromium = find_chromium(args.chromium)
    ui = args.ui.rstrip("/")
    try:
        httpx.get(f"{ui}/api/health", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise SystemExit(
            f"the Prefect UI at {ui} is not answering ({exc}); run `make demo`"
        ) from None
    for name, url, height in pages(ui, args.run.lower()):
        path = capture(
            chromium, url, args.out / f"{name}.png", width=args.width, height=height,
            wait_ms=args.wait_ms,
        )  # fmt: skip
        print(f"{path}  <- {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
