"""A loopback Jenkins emulator: a job's builds and their console text, behind basic auth.

Data (a dict, or ``data.json`` in the data directory)::

    {"users": {"ci": "<api token>"},
     "jobs": {"team/deploy": {"builds": [
        {"number": 12, "timestamp": 1735812000000, "result": "SUCCESS", "building": false,
         "console": "<log text>"}]}}}

Behaviour (shared/reference/connectors.md section 4.3): folders as ``/job/team/job/deploy``;
``GET <job>/api/json?tree=allBuilds[...]`` newest first; ``<job>/<n>/api/json``;
``<job>/<n>/consoleText`` as plain text. HTTP basic ``user:api-token`` required (401 with
``WWW-Authenticate``); unknown job or build is 404. Faults come from the base class.

Run standalone: ``python -m tests.emulators.jenkins --data DIR`` prints its URL; then
``sprawlguard scan ci-logs --jenkins URL --job team/deploy``.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import unquote

from tests.emulators.base import Emulator, Request, Response, data_dir_arg

_PATH = re.compile(r"(?P<job>(?:/job/[^/]+)+)(?:/(?P<n>\d+))?/(?P<what>api/json|consoleText)$")


class JenkinsEmulator(Emulator):
    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self.data = data
        self.route("GET", "/job/", self._job)

    def _authorised(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        user, _, token = base64.b64decode(auth[6:]).decode("utf-8", "replace").partition(":")
        return self.data.get("users", {}).get(user) == token

    def _job(self, req: Request) -> Response:
        if not self._authorised(req):
            return Response(401, "<html><body>Authentication required</body></html>",
                            {"WWW-Authenticate": 'Basic realm="Jenkins"', "Content-Type": "text/html"})
        m = _PATH.match(req.path)
        name = "/".join(unquote(p) for p in m["job"].split("/job/")[1:]) if m else ""
        job = self.data.get("jobs", {}).get(name)
        if m is None or job is None:
            return Response(404, "<html><body>Not Found</body></html>", {"Content-Type": "text/html"})
        builds = sorted(job["builds"], key=lambda b: b["number"], reverse=True)
        base = f"{self.url}/job/" + "/job/".join(name.split("/"))
        if m["n"] is None:
            if m["what"] != "api/json":
                return Response(404, "Not Found")
            return Response(200, {"_class": "hudson.model.FreeStyleProject", "name": name.split("/")[-1],
                                  "allBuilds": [self._build_json(base, b) for b in builds]})
        build = next((b for b in builds if b["number"] == int(m["n"])), None)
        if build is None:
            return Response(404, "Not Found")
        if m["what"] == "consoleText":
            return Response(200, build.get("console", "").encode(), {"Content-Type": "text/plain; charset=utf-8"})
        return Response(200, self._build_json(base, build))

    @staticmethod
    def _build_json(base: str, b: dict[str, Any]) -> dict[str, Any]:
        return {"_class": "hudson.model.FreeStyleBuild", "number": b["number"], "url": f"{base}/{b['number']}/",
                "timestamp": b.get("timestamp", 0), "result": None if b.get("building") else b.get("result"),
                "building": bool(b.get("building")), "displayName": f"#{b['number']}"}


def main() -> None:  # pragma: no cover - manual use
    data = data_dir_arg(__doc__.splitlines()[0], "data.json")
    JenkinsEmulator(json.loads((data / "data.json").read_text())).serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
