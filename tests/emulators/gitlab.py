"""A loopback GitLab REST v4 emulator for CI jobs and their traces.

Data (a dict, or ``data.json`` in the data directory)::

    {"tokens": ["<token>"],
     "projects": {"group/app": {"id": 42, "jobs": [
        {"id": 7001, "name": "test", "stage": "test", "status": "success", "ref": "main",
         "created_at": "2025-01-02T10:00:00Z", "user": {"username": "alice"},
         "pipeline": {"id": 501, "sha": "abc"}, "trace": "<log text>"}]}}}

Behaviour (shared/reference/connectors.md section 4.2): project by numeric id or URL-encoded path;
``GET /api/v4/projects/:id/jobs`` newest first with ``page``/``per_page`` (capped by ``page_cap``)
and the ``x-next-page``/``x-page``/``x-per-page``/``x-total``/``x-total-pages`` and ``Link``
headers; ``/jobs/:job_id``; ``/jobs/:job_id/trace`` as ``text/plain``. ``PRIVATE-TOKEN`` or
``Authorization: Bearer`` required (401 ``{"message": "401 Unauthorized"}``); unknown project or job
is 404. Faults come from the base class.

Run standalone: ``python -m tests.emulators.gitlab --data DIR`` prints its URL; then
``sprawlguard scan ci-logs --gitlab group/app --url URL``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from tests.emulators.base import Emulator, Request, Response, data_dir_arg

_JOB_KEYS = ("id", "name", "stage", "status", "ref", "created_at", "finished_at", "user", "pipeline", "commit")


class GitLabEmulator(Emulator):
    def __init__(self, data: dict[str, Any], page_cap: int = 100) -> None:
        super().__init__()
        self.data = data
        self.page_cap = page_cap
        self.route("GET", "/api/v4/projects/", self._projects)

    def _project(self, ref: str) -> tuple[str, dict[str, Any]] | None:
        ref = unquote(ref)
        for path, project in self.data.get("projects", {}).items():
            if ref in (path, str(project.get("id"))):
                return path, project
        return None

    def _projects(self, req: Request) -> Response:
        token = req.headers.get("private-token") or req.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.data.get("tokens", []):
            return Response(401, {"message": "401 Unauthorized"})
        parts = req.path.split("/")[4:]  # /api/v4/projects/<id>/jobs[/<job>[/trace]]
        found = self._project(parts[0]) if parts else None
        if found is None or len(parts) < 2 or parts[1] != "jobs":
            return Response(404, {"message": "404 Project Not Found"})
        path, project = found
        jobs = project.get("jobs", [])
        if len(parts) == 2:
            return self._list(req, path, jobs)
        job = next((j for j in jobs if str(j["id"]) == parts[2]), None)
        if job is None:
            return Response(404, {"message": "404 Not found"})
        if len(parts) == 4 and parts[3] == "trace":
            trace = job.get("trace", "")
            body = trace if isinstance(trace, bytes) else trace.encode()
            return Response(200, body, {"Content-Type": "text/plain; charset=utf-8"})
        return Response(200, self._job_json(path, job))

    def _job_json(self, path: str, job: dict[str, Any]) -> dict[str, Any]:
        out = {k: job[k] for k in _JOB_KEYS if k in job}
        out["web_url"] = f"https://gitlab.example/{path}/-/jobs/{job['id']}"
        return out

    def _list(self, req: Request, path: str, jobs: list[dict[str, Any]]) -> Response:
        chosen = sorted(jobs, key=lambda j: j["id"], reverse=True)
        per_page = min(int(req.arg("per_page") or 20), self.page_cap)
        page = int(req.arg("page") or 1)
        items = chosen[(page - 1) * per_page: page * per_page]
        pages = max(1, -(-len(chosen) // per_page))
        headers = {"x-page": str(page), "x-per-page": str(per_page), "x-total": str(len(chosen)),
                   "x-total-pages": str(pages), "x-next-page": str(page + 1) if page < pages else ""}
        if page < pages:
            headers["Link"] = f'<{self.url}{req.path}?page={page + 1}&per_page={per_page}>; rel="next"'
        return Response(200, [self._job_json(path, j) for j in items], headers)


def main() -> None:  # pragma: no cover - manual use
    data = data_dir_arg(__doc__.splitlines()[0], "data.json")
    GitLabEmulator(json.loads((data / "data.json").read_text())).serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
