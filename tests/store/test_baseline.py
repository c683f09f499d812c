"""The baseline: keyed on (rule, salted fingerprint), sorted, no lines or timestamps, stable across line
moves, rebases and squashes, never hiding a different value; `baseline create|update|show`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import fake
from tests.sources.test_git import commit, git

RULES = ("--rules", str(Path(__file__).parent.parent / "data" / "rules"), "--no-builtin-rules")
KEY = fake("acme_{{gen:alnum:24}}", "baseline-1")
OTHER = fake("acme_{{gen:alnum:24}}", "baseline-2")
PAT = fake("ghp_{{gen:alnum:30}}{{checksum:github}}", "baseline-3")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "app.env").write_text(f"A=1\nACME={KEY}\n")
    (root / "ci.yaml").write_text(f"token: {PAT}\n")
    return root


def scan(cli, *args: str):
    return cli("scan", *args, *RULES, "--no-db", "-f", "json")


def new_flags(res) -> list[bool]:
    return [f["new"] for f in json.loads(res.out)["findings"]]


def test_create_writes_sorted_salted_entries_without_places_or_times(cli, tree: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    res = cli("baseline", "create", str(base), str(tree), *RULES)
    assert res.code == 0, res.err
    assert "2 accepted secret(s); 2 added" in res.err
    doc = json.loads(base.read_text())
    assert set(doc) == {"version", "tool", "salt", "secrets"}
    assert all(set(e) == {"rule_id", "hash"} for e in doc["secrets"])  # no line, path or timestamp
    keys = [(e["rule_id"], e["hash"]) for e in doc["secrets"]]
    assert keys == sorted(keys) and [k[0] for k in keys] == ["t.acme.key", "t.ghp"]
    text = base.read_text()
    assert KEY not in text and PAT not in text and "app.env" not in text
    # the installation's fingerprint (what the inventory and reports show) is not in the file either
    fps = {f["fingerprint"] for f in json.loads(scan(cli, "path", str(tree)).out)["findings"]}
    assert fps and not any(fp in text for fp in fps)
    shown = cli("baseline", "show", str(base))
    assert shown.out.splitlines() == [f"{r}\t{h}" for r, h in keys]


def test_fail_on_new_only_for_secrets_not_in_the_baseline(cli, tree: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    assert cli("baseline", "create", str(base), str(tree), *RULES).code == 0
    ok = scan(cli, "path", str(tree), "--baseline", str(base), "--fail-on", "new")
    assert ok.code == 0 and new_flags(ok) == [False, False]
    assert scan(cli, "path", str(tree), "--baseline", str(base)).code == 1  # --fail-on any still fails
    (tree / "more.txt").write_text(f"x = {OTHER}\n")
    res = scan(cli, "path", str(tree), "--baseline", str(base), "--fail-on", "new")
    assert res.code == 1
    assert sorted(new_flags(res)) == [False, False, True]


def test_a_different_value_on_the_same_line_is_never_hidden(cli, tree: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    assert cli("baseline", "create", str(base), str(tree), *RULES).code == 0
    (tree / "app.env").write_text(f"A=1\nACME={OTHER}\n")  # same file, line, column and rule
    res = scan(cli, "path", str(tree), "--baseline", str(base), "--fail-on", "new")
    assert res.code == 1
    by_path = {Path(f["location"]["path"]).name: f for f in json.loads(res.out)["findings"]}
    assert by_path["app.env"]["new"] is True and by_path["app.env"]["location"]["line"] == 2
    assert by_path["ci.yaml"]["new"] is False


def test_line_moves_change_nothing(cli, tree: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    assert cli("baseline", "create", str(base), str(tree), *RULES).code == 0
    before = base.read_bytes()
    (tree / "app.env").write_text(f"# moved\n\n\nB=2\n    ACME={KEY}\n")
    (tree / "ci.yaml").unlink()
    (tree / "sub").mkdir()
    (tree / "sub" / "renamed.yaml").write_text(f"jobs:\n  token: {PAT}\n")
    assert scan(cli, "path", str(tree), "--baseline", str(base), "--fail-on", "new").code == 0
    res = cli("baseline", "update", str(base), str(tree), *RULES)
    assert res.code == 0 and "0 added, 0 removed" in res.err
    assert base.read_bytes() == before  # byte for byte: nothing to review in the diff


def test_rule_is_part_of_the_key(cli, tree: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    assert cli("baseline", "create", str(base), str(tree), *RULES).code == 0
    other_rules = tmp_path / "other.yaml"
    rules = Path(RULES[1], "acme.yaml").read_text().replace("id: t.acme.key", "id: t.other.key", 1)
    other_rules.write_text(rules)
    res = cli("scan", "path", str(tree / "app.env"), "--rules", str(other_rules), "--no-builtin-rules",
              "--enable-rule", "t.other", "--no-db", "-f", "json", "--baseline", str(base), "--fail-on", "new")
    assert res.code == 1  # the same value, found by a rule it was never accepted for
    assert [f["rule_id"] for f in json.loads(res.out)["findings"]] == ["t.other.key"]


def test_stable_across_rebase_and_squash(cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    root = commit(repo, {"README.md": "hi\n"}, "init")
    commit(repo, {"conf/app.env": f"A=1\nACME={KEY}\n"}, "add key")
    commit(repo, {"ci.yaml": f"token: {PAT}\n"}, "add ci")
    base = tmp_path / "b.json"
    res = cli("scan", "git", str(repo), *RULES, "--no-db", "--write-baseline", str(base), "--fail-on", "never")
    assert res.code == 0, res.err
    before = base.read_bytes()
    assert len(json.loads(before)["secrets"]) == 2

    # rewrite history: squash everything into one commit that also moves the key down the file
    git(repo, "reset", "-q", "--soft", root)
    (repo / "conf" / "app.env").write_text(f"# header\nA=1\n\nACME={KEY}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "squashed")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    res = cli("scan", "git", str(repo), *RULES, "--no-db", "-f", "json", "--baseline", str(base),
              "--fail-on", "new")
    assert res.code == 0, res.err
    assert new_flags(res) and not any(new_flags(res))
    copy = tmp_path / "copy.json"
    shutil.copy(base, copy)
    assert cli("scan", "git", str(repo), *RULES, "--no-db", "--write-baseline", str(copy),
               "--fail-on", "never").code == 0
    assert copy.read_bytes() == before


def test_update_adds_keeps_salt_and_prunes_on_request(cli, tree: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    assert cli("baseline", "create", str(base), str(tree), *RULES).code == 0
    salt = json.loads(base.read_text())["salt"]
    (tree / "more.txt").write_text(f"x = {OTHER}\n")
    res = cli("baseline", "update", str(base), str(tree), *RULES)
    assert res.code == 0 and "3 accepted secret(s); 1 added, 0 removed" in res.err
    assert json.loads(base.read_text())["salt"] == salt
    (tree / "more.txt").unlink()
    (tree / "ci.yaml").unlink()
    assert "3 accepted secret(s); 0 added, 0 removed" in cli("baseline", "update", str(base), str(tree),
                                                            *RULES).err
    res = cli("baseline", "update", str(base), str(tree), *RULES, "--prune")
    assert res.code == 0 and "1 accepted secret(s); 0 added, 2 removed" in res.err
    assert [e["rule_id"] for e in json.loads(base.read_text())["secrets"]] == ["t.acme.key"]


def test_create_refuses_to_overwrite_and_update_needs_a_file(cli, tree: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    assert cli("baseline", "create", str(base), str(tree), *RULES).code == 0
    first = base.read_bytes()
    res = cli("baseline", "create", str(base), str(tree), *RULES)
    assert res.code == 2 and "already exists" in res.err and "baseline update" in res.err
    assert base.read_bytes() == first
    assert cli("baseline", "create", str(base), str(tree), *RULES, "--force").code == 0
    assert json.loads(base.read_bytes())["salt"] != json.loads(first)["salt"]
    res = cli("baseline", "update", str(tmp_path / "missing.json"), str(tree), *RULES)
    assert res.code == 2 and "baseline create" in res.err
    (tmp_path / "bad.json").write_text('{"salt": "zz", "secrets": []}')
    res = scan(cli, "path", str(tree), "--baseline", str(tmp_path / "bad.json"))
    assert res.code == 2 and "not a sprawlguard baseline" in res.err


def test_create_scans_the_current_directory_by_default(cli, tree: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    assert cli("baseline", "create", str(tmp_path / "b.json"), *RULES).code == 0
    assert len(json.loads((tmp_path / "b.json").read_text())["secrets"]) == 2


def test_scan_error_is_exit_3_and_never_prunes(cli, tree: Path, tmp_path: Path) -> None:
    base = tmp_path / "b.json"
    assert cli("baseline", "create", str(base), str(tree), *RULES).code == 0
    before = base.read_bytes()
    res = cli("baseline", "update", str(base), str(tree / "app.env"), str(tree / "nope"), *RULES, "--prune")
    assert res.code == 3 and "nope" in res.err
    assert base.read_bytes() == before  # ci.yaml was not scanned, so its entry is kept


def test_written_entries_are_sorted_whatever_the_insertion_order(tmp_path: Path) -> None:
    from sprawlguard.store.baseline import Baseline, load_baseline, write_baseline

    keys = [(f"r.{i % 7}", f"{(i * 7919) % 1000:064x}") for i in range(200)]
    path = tmp_path / "b.json"
    write_baseline(path, Baseline(salt="00" * 16, entries=set(keys)))
    written = [(e["rule_id"], e["hash"]) for e in json.loads(path.read_text())["secrets"]]
    assert written == sorted(set(keys))
    again = tmp_path / "again.json"
    write_baseline(again, load_baseline(path))
    assert again.read_bytes() == path.read_bytes()
