"""A loopback GitHub Actions REST emulator: workflow runs, jobs, and run-log ZIPs behind a redirect.

Data (a dict, or ``data.json`` in the data directory for standalone use)::

    {"tokens": ["<token>"],
     "repos": {"owner/repo": {"runs": [
        {"id": 101, "name": "CI", "status": "completed", "created_at": "2025-01-02T10:00:00Z",
         "head_branch": "main", "head_sha": "abc", "run_attempt": 1, "actor": {"login": "alice"},
         "step_files": true,                      # false: the ZIP has only the per-job files
         "zip_base64": "...",                     # optional: serve these bytes as the archive
         "jobs": [{"id": 9001, "name": "build",
                   "steps": [{"number": 1, "name": "Set up job", "log": "<log text>"}]}]}]}}}

Behaviour (shared/reference/connectors.md section 4.1): ``GET /repos/{o}/{r}/actions/runs``
newest first with ``per_page``/``page`` (capped by ``page_cap``), a ``Link: rel="next"`` header and
the ``created=>=DATE`` filter; ``/runs/{id}``; ``/runs/{id}/jobs``; ``/runs/{id}/logs`` answers
**302** to a signed URL on a *different host name* (``localhost`` instead of ``127.0.0.1``) that
expires after ``url_ttl`` seconds (then 403, like an expired blob SAS); ``expire_next`` makes the
next N signed URLs expired at once. Bearer token required (401 ``Bad credentials``); unknown repo
or run is 404. Faults (429 + Retry-After, resets) come from the base class.

Run standalone: ``python -m tests.emulators.github_actions --data DIR`` prints its URL; then
``sprawlguard scan ci-logs --github owner/repo --github-api-url URL``.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import threading
import time
import zipfile
from typing import Any
from urllib.parse import urlencode

from tests.emulators.base import Emulator, Request, Response, data_dir_arg

_RUNS = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/actions/runs(?:/(?P<id>\d+)(?:/(?P<what>jobs|logs))?)?/?$")


def build_zip(run: dict[str, Any]) -> bytes:
    """The run-log archive: ``N_<job>.txt`` per job, plus ``<job>/M_<step>.txt`` unless disabled."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, job in enumerate(run.get("jobs", [])):
            zf.writestr(f"{i}_{job['name']}.txt", "".join(s.get("log", "") for s in job.get("steps", [])))
            if run.get("step_files", True):
                for step in job.get("steps", []):
                    zf.writestr(f"{job['name']}/{step['number']}_{step['name']}.txt", step.get("log", ""))
    return out.getvalue()


class GitHubActionsEmulator(Emulator):
    def __init__(self, data: dict[str, Any], page_cap: int = 100, url_ttl: float = 60.0) -> None:
        super().__init__()
        self.data = data
        self.page_cap = page_cap
        self.url_ttl = url_ttl
        self.expire_next = 0
        self._blobs: dict[str, tuple[bytes, float]] = {}
        self._blob_lock = threading.Lock()
        self.route("GET", "/repos/", self._repos)
        self.route("GET", "/_blobs/", self._blob)

    # helpers for tests ------------------------------------------------------------------------
    def runs(self, repo: str) -> list[dict[str, Any]]:
        return self.data["repos"][repo]["runs"]

    def blob_host_url(self) -> str:
        return self.url.replace("127.0.0.1", "localhost")

    # handlers ---------------------------------------------------------------------------------
    def _authorised(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        return auth.startswith(("Bearer ", "token ")) and auth.split(" ", 1)[1] in self.data.get("tokens", [])

    def _repos(self, req: Request) -> Response:
        if not self._authorised(req):
            return Response(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        m = _RUNS.match(req.path)
        repo = self.data.get("repos", {}).get(m["repo"]) if m else None
        if m is None or repo is None:
            return Response(404, {"message": "Not Found"})
        runs = repo["runs"]
        if m["id"] is None:
            return self._list(req, m["repo"], runs)
        run = next((r for r in runs if r["id"] == int(m["id"])), None)
        if run is None:
            return Response(404, {"message": "Not Found"})
        if m["what"] == "jobs":
            jobs = [self._job_json(m["repo"], run, j) for j in run.get("jobs", [])]
            return Response(200, {"total_count": len(jobs), "jobs": jobs})
        if m["what"] == "logs":
            if run.get("status") != "completed":
                return Response(404, {"message": "Not Found"})
            return self._redirect(run)
        return Response(200, self._run_json(m["repo"], run))

    def _list(self, req: Request, repo: str, runs: list[dict[str, Any]]) -> Response:
        chosen = sorted(runs, key=lambda r: (r["created_at"], r["id"]), reverse=True)
        created = req.arg("created")
        if created and created.startswith(">="):
            chosen = [r for r in chosen if r["created_at"][:10] >= created[2:12]]
        per_page = min(int(req.arg("per_page") or 30), self.page_cap)
        page = int(req.arg("page") or 1)
        items = chosen[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(chosen):
            query = {"per_page": per_page, "page": page + 1, **({"created": created} if created else {})}
            nxt = f"{self.url}/repos/{repo}/actions/runs?{urlencode(query)}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        body = {"total_count": len(chosen), "workflow_runs": [self._run_json(repo, r) for r in items]}
        return Response(200, body, headers)

    def _run_json(self, repo: str, run: dict[str, Any]) -> dict[str, Any]:
        keep = ("id", "name", "status", "conclusion", "created_at", "head_branch", "head_sha", "run_attempt",
                "actor", "run_number")
        out = {k: run[k] for k in keep if k in run}
        out["html_url"] = f"https://github.example/{repo}/actions/runs/{run['id']}"
        return out

    def _job_json(self, repo: str, run: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
        return {"id": job["id"], "run_id": run["id"], "name": job["name"], "status": "completed",
                "html_url": f"https://github.example/{repo}/actions/runs/{run['id']}/job/{job['id']}",
                "steps": [{"number": s["number"], "name": s["name"], "status": "completed"}
                          for s in job.get("steps", [])]}

    def _redirect(self, run: dict[str, Any]) -> Response:
        payload = base64.b64decode(run["zip_base64"]) if "zip_base64" in run else build_zip(run)
        key = secrets.token_hex(8)
        with self._blob_lock:
            expires = time.time() + self.url_ttl
            if self.expire_next > 0:
                self.expire_next -= 1
                expires = time.time() - 1
            self._blobs[key] = (payload, expires)
        location = f"{self.blob_host_url()}/_blobs/{key}/logs.zip?sv=2024&se={int(expires)}&sig={key}"
        return Response(302, b"", {"Location": location})

    def _blob(self, req: Request) -> Response:
        key = req.path.split("/")[2]
        with self._blob_lock:
            found = self._blobs.get(key)
        if found is None or req.arg("sig") != key:
            return Response(403, "<Error><Code>AuthenticationFailed</Code></Error>")
        payload, expires = found
        if time.time() > expires:
            return Response(403, "<Error><Code>AuthenticationFailed</Code><Message>expired</Message></Error>")
        return Response(200, payload, {"Content-Type": "application/zip"})


def main() -> None:  # pragma: no cover - manual use
    data = data_dir_arg(__doc__.splitlines()[0], "data.json")
    GitHubActionsEmulator(json.loads((data / "data.json").read_text())).serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
