"""Property-based fuzzing (hypothesis) of the connectors' parsers of outside data.

CI log normalisation, the archive reader (random, truncated and corrupted ZIPs), Slack markup,
message JSON and export ZIPs, Jira ADF and wiki markup, Confluence storage XHTML, and what the
verifier parses from an issuer's answer (JSON, STS XML, certificates, JWTs). Properties: no
exception but sprawlguard's own errors (`sprawlguard.errors`), line numbers stay within the
input, and a secret planted in otherwise random content is still found where it should be.
Profiles come from test_fuzz_core (`HYPOTHESIS_PROFILE=long` for a longer run by hand).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sprawlguard.detect.fakes import expand
from sprawlguard.detect.rules import load_rules
from sprawlguard.errors import SprawlguardError
from sprawlguard.model import Chunk, ItemError, Location
from sprawlguard.sources.archive import ArchiveError, Limits, iter_members, list_members
from sprawlguard.sources.atlassian_common import adf_to_text, storage_to_text, text_of, wiki_to_text
from sprawlguard.sources.cilogs import clean_line, github_zip_chunks, log_chunks
from sprawlguard.sources.slack import SlackExportSource, message_texts, normalise
from sprawlguard.verify import aws, gcp, http_check, jwt
from sprawlguard.verify.net import HttpResponse
from sprawlguard.verify.rsa import DerError, certificate_modulus, private_modulus
from tests.hardening.test_fuzz_core import ENGINE  # importing it registers and loads the profiles

LOC = Location(source="fuzz", uri="fuzz", path="fuzz")


def planted(seed: object) -> str:
    return expand("acme_{{gen:alnum:24}}", random.Random(str(seed)))


def found_lines(chunks: list[Chunk], token: str) -> set[int]:
    return {m.line for c in chunks for m in ENGINE.scan(c) if m.secret == token}


# JSON-like values a hostile or broken API answer or export can hold
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=15)
# text rich in the characters the parsers care about
noise = st.text(alphabet=st.sampled_from(list("<>|@#!&;:*`~_-+=/\\\"'[]{}()\r\n\t \x1b\x07\x00ab1Zé🙂")),
                max_size=120) | st.text(max_size=120)
word_sep = st.sampled_from([" ", "\t", "\n", " | ", " :"])  # what may stand next to a token


# --- CI logs -------------------------------------------------------------------------------------

ansi = st.sampled_from(["\x1b[0m", "\x1b[1;31m", "\x1b[36;1m", "\x1b]0;title\x07", "\x1b[2K", "\x1b[K", ""])
ci_prefix = st.sampled_from([
    "", "2025-04-07T12:57:33.2904078Z ", "2025-01-02T10:00:00.000000Z 00O ", "2025-01-02T10:00:00.000000Z 01E ",
    "[2025-01-02T10:00:00.123Z] ", "[10:00:01] ", "\ufeff", "##[group]", "+ ", "++ ", "[command]",
])


@given(st.binary(max_size=3000), st.integers(min_value=16, max_value=600))
def test_log_chunks_survive_any_bytes_and_keep_line_numbers_in_range(data: bytes, chunk_chars: int) -> None:
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    for c in log_chunks(io.BytesIO(data), LOC, chunk_chars=chunk_chars):
        assert isinstance(c, Chunk)
        last = c.first_line + c.text.rstrip("\n").count("\n")
        assert 1 <= c.first_line <= last <= max(lines, 1), (c.first_line, last, lines)


@given(noise)
def test_clean_line_never_raises_and_never_adds_a_line(raw: str) -> None:
    text, continues = clean_line(raw.replace("\n", ""))
    assert isinstance(continues, bool)
    assert "\n" not in text


@given(st.lists(noise.map(lambda s: s.replace("\n", " ").replace("\r", " ")), max_size=8),
       st.lists(noise.map(lambda s: s.replace("\n", " ").replace("\r", " ")), max_size=8),
       ci_prefix, ansi, ansi, st.sampled_from(["", "export TOKEN=", "token ", "+ curl -H 'X: "]))
def test_a_secret_in_a_ci_log_line_with_random_prefixes_is_found_at_its_line(
        before: list[str], after: list[str], prefix: str, a1: str, a2: str, lead: str) -> None:
    token = planted((len(before), len(after), prefix, a1))
    line = f"{prefix}{a1}{lead}{a2}{token}{a1} done"
    log = "\n".join([*before, line, *after]).encode()
    chunks = list(log_chunks(io.BytesIO(log), LOC))
    assert found_lines(chunks, token) == {len(before) + 1}


def test_a_log_line_of_blank_progress_states_is_cleaned() -> None:
    """Regression (fuzzing): a line like "\\r\\t" made _resolve_cr raise ValueError and ended the scan."""
    token = planted("cr-blank")
    chunks = list(log_chunks(io.BytesIO(f"\r\t\n \r \r\nkey {token}\n".encode()), LOC))
    assert found_lines(chunks, token) == {3}


# --- archives ------------------------------------------------------------------------------------

def _zip(files: dict[str, bytes], method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


zip_files = st.dictionaries(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
                            .filter(lambda n: not n.endswith("/")), st.binary(max_size=400), min_size=1, max_size=4)
methods = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])


def _read_all(data: bytes, limits: Limits | None = None) -> int:
    """Read every member of an archive to the end; return how many bytes came out."""
    total = 0
    list_members(io.BytesIO(data), limits, "fuzz.zip")
    for _member, stream in iter_members(io.BytesIO(data), limits, "fuzz.zip"):
        while block := stream.read(1 << 12):
            total += len(block)
    return total


@given(st.binary(max_size=2000))
def test_archive_reader_refuses_random_bytes_with_its_own_error(data: bytes) -> None:
    try:
        _read_all(data)
    except ArchiveError as exc:
        assert "fuzz.zip" in str(exc)


@given(zip_files, methods, st.data())
def test_archive_reader_survives_truncated_and_corrupted_zips(files: dict[str, bytes], method: int,
                                                            data: st.DataObject) -> None:
    good = _zip(files, method)
    assert _read_all(good) == sum(len(v) for v in files.values())
    cut = data.draw(st.integers(min_value=0, max_value=len(good) - 1), label="truncate at")
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(1, 255)), min_size=1,
                               max_size=6), label="xor bytes")
    bad = bytearray(good)
    for pos, x in flips:
        bad[pos] ^= x
    small = Limits(max_members=3, max_member_bytes=300, max_total_bytes=900, max_ratio=5.0, ratio_floor_bytes=64)
    for variant, limits in ((good[:cut], None), (bytes(bad), None), (bytes(bad), small), (good, small)):
        with contextlib.suppress(ArchiveError):
            _read_all(variant, limits)


def test_a_corrupt_lzma_member_is_an_archive_error() -> None:
    """Regression (fuzzing): lzma.LZMAError escaped the archive reader."""
    good = bytearray(_zip({"0": b""}, zipfile.ZIP_LZMA))
    good[40] ^= 1  # inside the LZMA properties of the member's data
    with pytest.raises(ArchiveError, match="fuzz.zip"):
        _read_all(bytes(good))


@given(zip_files, methods, st.binary(max_size=60))
def test_github_zip_chunks_turn_any_archive_problem_into_an_item_error(files: dict[str, bytes], method: int,
                                                                      junk: bytes) -> None:
    good = _zip(files, method)
    for variant in (good, good[: len(good) // 2] + junk, junk + good):
        for out in github_zip_chunks(io.BytesIO(variant), "run.zip", lambda e: LOC):
            assert isinstance(out, Chunk | ItemError)


# --- Slack ---------------------------------------------------------------------------------------

slack_markup = st.sampled_from(["<@U0A>", "<#C01|general>", "<!here>", "<!subteam^S1|@ops>", "&amp;", "&lt;",
                                "&gt;", "```", "*", "_", "~", "`", "<https://x.example|", "|label>", ">", "<",
                                "<mailto:a@b.example|a@b.example>", ":smile:", "\n"])
markup_text = st.lists(slack_markup | noise, max_size=8).map("".join)


@given(markup_text)
def test_slack_normalise_never_adds_or_removes_a_line(text: str) -> None:
    assert normalise(text).count("\n") == text.count("\n")


@given(markup_text, markup_text, word_sep, word_sep,
       st.sampled_from(["{t}", "<https://x.example/?k={t}|wiki>", "<https://x.example|{t}>", "```{t}```",
                        "`{t}`", "*{t}*", "~{t}~", "<{t}>", "&gt; {t} &amp;", "&lt;{t}&amp;"]))
def test_a_secret_in_a_slack_message_with_random_markup_is_found_at_its_line(
        before: str, after: str, s1: str, s2: str, wrap: str) -> None:
    token = planted((before, after, wrap))
    text = before + s1 + wrap.format(t=token) + s2 + after
    msg = {"ts": "1700000000.000100", "text": text, "blocks": [{"type": "rich_text", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]}
    parts = message_texts(msg)
    assert parts and parts[0][0] == "text"
    line = (before + s1).count("\n") + 1
    assert found_lines([Chunk(parts[0][1], LOC)], token) == {line}


@given(st.dictionaries(st.sampled_from(["ts", "text", "blocks", "attachments", "previous_message", "files",
                                        "user", "edited", "thread_ts", "bogus"]), json_values, max_size=8))
def test_slack_message_texts_survive_any_json(msg: dict[str, Any]) -> None:
    for name, text in message_texts(msg):
        assert isinstance(name, str) and isinstance(text, str)


def _deep(depth: int, leaf: Any) -> Any:
    node = leaf
    for i in range(depth):
        node = {"type": "section", "fields": [node]} if i % 2 else [node]
    return node


def test_deeply_nested_slack_blocks_still_give_their_text() -> None:
    """Regression (fuzzing): nesting past Python's recursion limit raised RecursionError and ended the scan."""
    token = planted("deep-slack")
    leaf = {"type": "mrkdwn", "text": f"key {token}"}
    msg = {"ts": "1700000000.000100", "blocks": [_deep(3000, leaf)]}
    (name, text), = message_texts(msg)
    assert name == "blocks" and found_lines([Chunk(text, LOC)], token) == {1}


day_json = st.one_of(
    st.lists(st.fixed_dictionaries({"ts": st.sampled_from(["1700000000.000100", "x", "1.2"]),
                                    "text": markup_text}, optional={"blocks": json_values, "files": json_values,
                                                                    "attachments": json_values}), max_size=4)
    .map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=50),
    st.integers(1, 5000).map(lambda n: "[" * n),
)


@given(st.dictionaries(st.sampled_from(["channels.json", "users.json", "groups.json", "dms.json", "general/2024-01-02.json",
                                        "general/2024-01-03.json", "C1/2024-01-02.json", "../x/2024-01-01.json",
                                        "general/notes.txt"]), day_json, min_size=1, max_size=5),
       st.binary(max_size=40))
def test_slack_export_survives_any_zip_content(tmp_path_factory: pytest.TempPathFactory,
                                               entries: dict[str, str], junk: bytes) -> None:
    good = _zip({k: v.encode() for k, v in entries.items()}, zipfile.ZIP_DEFLATED)
    d = tmp_path_factory.mktemp("export")
    for i, variant in enumerate((good, good[: len(good) // 2] + junk)):
        path = Path(d, f"export{i}.zip")
        path.write_bytes(variant)
        try:
            for out in SlackExportSource(path).chunks():
                assert isinstance(out, Chunk | ItemError)
                if isinstance(out, Chunk):
                    assert out.first_line == 1
        except SprawlguardError:
            pass


def test_slack_export_with_a_deeply_nested_day_file_names_it_and_goes_on(tmp_path: Path) -> None:
    """Regression (fuzzing): json.loads raised RecursionError on deep nesting and ended the scan."""
    token = planted("export-deep")
    path = tmp_path / "export.zip"
    path.write_bytes(_zip({"channels.json": b'[{"id": "C1", "name": "general"}]',
                           "general/2024-01-01.json": b"[" * 100_000,
                           "general/2024-01-02.json": json.dumps([{"ts": "1700000000.000100",
                                                                   "text": token}]).encode()},
                          zipfile.ZIP_DEFLATED))
    out = list(SlackExportSource(path).chunks())
    assert [e.location.path for e in out if isinstance(e, ItemError)] == ["general/2024-01-01.json"]
    assert found_lines([c for c in out if isinstance(c, Chunk)], token) == {1}


def test_slack_export_with_wrongly_typed_lists_names_them_and_goes_on(tmp_path: Path) -> None:
    """Regression (fuzzing): users.json holding a number, or `"files": true`, raised TypeError."""
    token = planted("export-types")
    path = tmp_path / "export.zip"
    path.write_bytes(_zip({"channels.json": b'[{"id": "C1", "name": "general"}]', "users.json": b"1",
                           "general/2024-01-02.json": json.dumps([{"ts": "1700000000.000100", "text": token,
                                                                   "files": True}]).encode()},
                          zipfile.ZIP_DEFLATED))
    out = list(SlackExportSource(path).chunks())
    assert [e.location.path for e in out if isinstance(e, ItemError)] == ["users.json"]
    assert found_lines([c for c in out if isinstance(c, Chunk)], token) == {1}


# --- Jira ADF and wiki markup, Confluence storage XHTML -------------------------------------------

adf_types = st.sampled_from(["doc", "paragraph", "text", "codeBlock", "table", "tableRow", "tableCell", "hardBreak",
                             "mention", "inlineCard", "media", "expand", "bulletList", "listItem", "bogus", None, 7])
adf_nodes = st.recursive(
    st.fixed_dictionaries({"type": adf_types}, optional={"text": scalars, "attrs": json_values, "marks": json_values}),
    lambda inner: st.fixed_dictionaries({"type": adf_types}, optional={
        "content": st.lists(inner, max_size=4) | json_values, "attrs": json_values, "text": scalars}),
    max_leaves=20)


@given(adf_nodes | json_values)
def test_adf_walker_survives_any_json(doc: Any) -> None:
    assert isinstance(adf_to_text(doc), str)
    assert isinstance(text_of({"type": "doc", "content": [doc]}), str)


@given(st.lists(adf_nodes, max_size=4), st.lists(adf_nodes, max_size=4),
       st.sampled_from(["paragraph", "codeBlock", "tableCell", "heading", "listItem", "bogus"]),
       st.sampled_from(["", "export ACME=", "token: "]))
def test_a_secret_in_an_adf_text_node_among_random_nodes_is_found(before: list[Any], after: list[Any],
                                                                  parent: str, lead: str) -> None:
    token = planted((len(before), len(after), parent))
    leaf = {"type": parent, "content": [{"type": "text", "text": f"{lead}{token}"}]}
    doc = {"type": "doc", "content": [*before, leaf, *after]}
    text = text_of(doc)
    assert found_lines([Chunk(text, LOC)], token)


def test_deeply_nested_adf_still_gives_its_text() -> None:
    """Regression (fuzzing): an ADF document nested ~500 deep (valid JSON) raised RecursionError."""
    token = planted("deep-adf")
    node: Any = {"type": "text", "text": f"key {token}"}
    for _ in range(5000):
        node = {"type": "paragraph", "content": [node]}
    text = text_of({"type": "doc", "content": [node]})
    assert found_lines([Chunk(text, LOC)], token)


@given(noise)
def test_wiki_markup_keeps_every_line(text: str) -> None:
    assert wiki_to_text(text).count("\n") == text.count("\n")


xhtml_bits = st.sampled_from([
    "<p>", "</p>", "<br/>", "<table><tr><td>", "</td><td>", "</td></tr></table>", '<ac:structured-macro ac:name="code">',
    '<ac:parameter ac:name="language">', "</ac:parameter>", "<ac:plain-text-body><![CDATA[", "]]></ac:plain-text-body>",
    "</ac:structured-macro>", '<a href="https://x.example/">', "</a>", '<ri:attachment ri:filename="a.env"/>',
    "&amp;", "&lt;", "&#x41;", "&bogus;", "<!--", "-->", "<![CDATA[", "]]>", "<", ">", "</", "<li>", "<h1>", "\n",
])
xhtml = st.lists(xhtml_bits | noise, max_size=12).map("".join)


@given(xhtml)
def test_storage_xhtml_survives_anything(body: str) -> None:
    assert storage_to_text(body).endswith("\n")


@given(xhtml.map(lambda s: s.replace("]]>", "")), xhtml,
       st.sampled_from(["<p>{t}</p>", "<p>key: {t}</p>", "<table><tr><td>x</td><td>{t}</td></tr></table>",
                        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[export K={t}\n]]>'
                        "</ac:plain-text-body></ac:structured-macro>",
                        '<p><a href="https://x.example/?k={t}">docs</a></p>',
                        '<ac:structured-macro ac:name="expand"><ac:rich-text-body><p>{t}</p></ac:rich-text-body>'
                        "</ac:structured-macro>"]))
def test_a_secret_in_confluence_storage_among_random_markup_is_found(before: str, after: str, wrap: str) -> None:
    # closed elements on both sides: an open `<a href="` or comment before it would legitimately swallow it
    assume("<!--" not in before and before.count("<") == before.count(">"))
    token = planted((before, after, wrap))
    text = storage_to_text("<p>" + before + "</p>" + wrap.format(t=token) + "<p>" + after)
    assert found_lines([Chunk(text, LOC)], token)


def test_an_unclosed_table_cell_does_not_swallow_the_rest_of_a_page() -> None:
    """Regression (fuzzing): text after a <td> that is never closed was dropped (a place to hide a
    secret), and a stray cell was glued onto the text before it."""
    token = planted("td")
    for body in (f"<table><tr><td>a</td><td>b<p>{token}</p>", f"<p>1</td><td></p><p>{token}</p>"):
        assert found_lines([Chunk(storage_to_text(body), LOC)], token), body


# --- what the verifier parses from an issuer's answer --------------------------------------------

HTTP_SPECS = [r.verify for r in load_rules() if r.verify is not None and r.verify.kind == "http"]
bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                   st.integers(1, 100_000).map(lambda n: b"[" * n), st.text(max_size=200).map(str.encode))
headers = st.dictionaries(st.sampled_from(["content-type", "retry-after", "location", "x-oauth-scopes"]),
                          st.sampled_from(["application/json", "text/html", "text/xml", "1", "-5", "x", "",
                                           "https://evil.example/"]), max_size=3)
statuses = st.sampled_from([200, 201, 204, 301, 302, 400, 401, 403, 404, 429, 500, 503]) | st.integers(100, 599)


def _response(status: int, body: bytes, hdrs: dict[str, str]) -> HttpResponse:
    return HttpResponse(status, hdrs, body, "issuer.example")


@given(statuses, bodies, headers, st.integers(0, max(0, len(HTTP_SPECS) - 1)))
def test_http_check_classifies_any_answer(status: int, body: bytes, hdrs: dict[str, str], i: int) -> None:
    resp = _response(status, body, hdrs)
    resp.is_json, resp.is_html  # noqa: B018 - must not raise
    spec = HTTP_SPECS[i]
    result = http_check.classify(spec, resp)
    assert result is None or len(result.reason) < 300


sts_xml = st.builds(lambda code, arn, junk: (
    f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Code>{code}</Code></Error>'
    f"<Arn>{arn}</Arn>{junk}</ErrorResponse>").encode(),
    st.sampled_from(["InvalidClientTokenId", "Throttling", "", "<x>", "&amp;"]), st.text(max_size=20),
    st.sampled_from(["", "<", "<!DOCTYPE x [<!ENTITY a 'b'>]>", "&undefined;", "<a><b></a>"]))


@given(statuses, sts_xml | bodies, headers)
def test_aws_sts_answer_parsing_never_raises(status: int, body: bytes, hdrs: dict[str, str]) -> None:
    result = aws.classify(_response(status, body, hdrs))
    assert result is None or result.reason


pem_bodies = st.binary(max_size=300).map(
    lambda b: "-----BEGIN CERTIFICATE-----\n" + __import__("base64").b64encode(b).decode() + "\n-----END CERTIFICATE-----")


@given(st.dictionaries(st.text(max_size=8), pem_bodies | json_values, max_size=3) | json_values,
       st.sampled_from([200, 404, 500]))
def test_gcp_certificate_answer_parsing_never_raises(certs: Any, status: int) -> None:
    resp = _response(status, json.dumps(certs).encode(), {"content-type": "application/json"})
    result = gcp._classify("sa@p.iam.gserviceaccount.com", 12345, resp)
    assert result is None or result.reason


def _der(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value if len(value) < 128 else bytes([tag, 0x82]) + len(value).to_bytes(2, "big") + value


# DER built from random nested TLVs: closer to a real certificate than random bytes
der = st.recursive(st.binary(max_size=8).map(lambda b: _der(0x02, b)),
                   lambda inner: st.tuples(st.sampled_from([0x30, 0xA0, 0x03, 0x04, 0x02]), st.lists(inner, max_size=7))
                   .map(lambda t: _der(t[0], (b"\x00" if t[0] == 0x03 else b"") + b"".join(t[1]))), max_leaves=20)


@given(der | st.binary(max_size=200))
def test_der_parsers_raise_only_der_error(data: bytes) -> None:
    import base64

    for kind, parse in (("CERTIFICATE", certificate_modulus), ("PRIVATE KEY", private_modulus),
                        ("RSA PRIVATE KEY", private_modulus)):
        pem = f"-----BEGIN {kind}-----\n{base64.b64encode(data).decode()}\n-----END {kind}-----"
        with contextlib.suppress(DerError):
            assert isinstance(parse(pem), int)


def test_certificate_with_an_empty_sequence_is_a_der_error() -> None:
    """Regression (fuzzing): an empty SEQUENCE raised IndexError, and the GCP check said verifier_error."""
    import base64

    for data in (b"\x30\x00", _der(0x30, _der(0x30, b"")), _der(0x30, _der(0x30, b"".join(
            _der(0x02, b"\x01") for _ in range(5)) + _der(0x30, _der(0x30, b"") + _der(0x03, b"\x00\x30\x00"))))):
        with pytest.raises(DerError):
            certificate_modulus(f"-----BEGIN CERTIFICATE-----\n{base64.b64encode(data).decode()}\n"
                                "-----END CERTIFICATE-----")


def _b64json(v: Any) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=")


claims = st.dictionaries(st.sampled_from(["alg", "iss", "sub", "aud", "exp", "nbf", "kid"]),
                         json_values | st.floats(allow_nan=True, allow_infinity=True)
                         | st.integers(-(10**30), 10**30), max_size=6)


@given(claims, claims, st.text(max_size=20))
def test_jwt_offline_analysis_of_any_token(header: dict[str, Any], payload: dict[str, Any], sig: str) -> None:
    from sprawlguard.verify.base import Context
    from sprawlguard.verify.net import Http

    token = f"{_b64json(header)}.{_b64json(payload)}.{sig}"
    ctx = Context(http=Http(), deadline=0.0, offline=True)  # nothing may be sent
    result = jwt.check(token, {}, None, ctx)  # type: ignore[arg-type]
    assert result.reason and "verifier_error" not in result.reason


def test_jwt_with_an_absurd_exp_is_analysed_not_an_error() -> None:
    """Regression (fuzzing): exp=1e300 made datetime.fromtimestamp raise OverflowError."""
    from sprawlguard.verify.base import Context
    from sprawlguard.verify.net import Http

    for exp in (1e300, 10**20, -(10**20), float("inf")):
        token = f"{_b64json({'alg': 'RS256'})}.{_b64json({'exp': exp, 'iss': 'x'})}.c2ln"
        result = jwt.check(token, {}, None, Context(http=Http(), deadline=0.0, offline=True))  # type: ignore[arg-type]
        assert result.reason.startswith(("not_attempted", "expired")), result.reason
