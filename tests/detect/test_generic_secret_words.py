"""Generic detection, second round (CredData recall at the default confidence): short secrets under
keys that are secret words, high-entropy values under loose `key` names, secret setters, CLI flags
inside quoted strings, Basic credentials built in code and secret defaults of getenv. One test per
miss class and per false-positive class guarded against. Every fixture is written here with
generated fake values; none is copied from CredData."""

from __future__ import annotations

import pytest

from sprawlguard.detect import allow
from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.rules import load_rules
from sprawlguard.model import Chunk, Confidence, Location
from tests.conftest import fake


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_rules(), EngineOptions(min_confidence=Confidence.MEDIUM))


def secrets(engine: Engine, text: str, path: str = "src/app.py") -> set[str]:
    chunk = Chunk(text=text, location=Location("file", "file:" + path, path))
    return {m.secret for m in engine.scan(chunk)}


CONSONANTS = "[b-df-hj-np-tv-z]"  # random letters that never read as English words
SHORT = fake("{{gen:" + CONSONANTS + ":5}}{{gen:digit:2}}", "short")  # 7 chars, below secret_quoted's floor
LOWER10 = fake("{{gen:" + CONSONANTS + ":10}}", "lower10")
MIXED = fake("{{gen:" + CONSONANTS + ":9}}{{gen:digit:3}}", "mixed")
KEY32 = fake("{{gen:alnum:32}}", "key32")
HEX32 = fake("{{gen:hex:32}}", "hex32")
B64 = fake("{{gen:base64:22}}==", "b64")


# -- 1. short or low-entropy values under keys that ARE secret words -----------------------------
@pytest.mark.parametrize(
    ("text", "path"),
    [
        (f"  secret: '{SHORT}',\n", "spec/fixtures.rb"),
        (f"  consumer_secret: '{SHORT}',\n", "spec/oauth_spec.rb"),
        (f'  "secret": "{SHORT}",\n', "test/data.json"),
        (f'\topts.CookieSecret = "{LOWER10}"\n', "server_test.go"),
        (f'\ttoken := "{LOWER10}"\n', "client_test.go"),
        (f"store.put(names[0], username='someone', secret='{SHORT}')\n", "tests/test_store.py"),
        (f"assert body['client_secret'] == '{SHORT}'\n", "tests/test_api.py"),
        (f"oauth:\n  consumer_secret: {MIXED}\n", "config/app.yaml"),
        (f"secret: {LOWER10}\n", "fixture/spec/oauth"),  # no extension: not code
        (f"client_secret = {MIXED}\n", "docs/setup.md"),
    ],
)
def test_short_secret_under_secret_word_key(engine: Engine, text: str, path: str) -> None:
    assert secrets(engine, text, path), text


@pytest.mark.parametrize(
    "text",
    [
        "token: 'unicorn'\n",  # an English word is a test stand-in or a lexer token type
        "lexer.token = 'keyword'\n",
        "if token == 'newline':\n",
        '  "access_token": "testac",\n',  # test names
        'ClientSecret: "sectest",\n',
        "token: 'def456',\n",  # sequences
        "TEST_TOKEN = '082630'\n",  # numbers are ids or codes
        'secret = "changeme"\n',
        "next_token = 'p4g3n8'\n",  # pagination, not a credential
        'token = "${API_TOKEN}"\n',
        "$headers[] = 'PRIVATE-TOKEN: '.$auth['username'];\n",  # a string concatenation
        "request.headers.token !== 'helloworld'\n",
    ],
)
def test_words_and_test_names_under_secret_keys_are_not_reported(engine: Engine, text: str) -> None:
    assert not secrets(engine, text, "src/app.ts"), text


def test_short_secret_rule_leaves_strong_values_to_secret_quoted(engine: Engine) -> None:
    chunk = Chunk(text=f'api_secret = "{KEY32}"\n', location=Location("file", "file:a.py", "a.py"))
    assert [m.rule_id for m in engine.scan(chunk)] == ["sg.generic.secret_quoted"]


# -- 2. high-entropy values under a loose `key` name ---------------------------------------------
@pytest.mark.parametrize(
    ("text", "path"),
    [
        (f"        self.key = '{KEY32}'.encode('utf-8')\n", "crypto.py"),
        (f"    @key = '{fake('{{gen:lowernum:32}}', 'rb')}'\n", "cipher.rb"),
        (f"const KEY = '{HEX32}';\n", "lib/Crypt.php"),
        (f'  "key": "{HEX32}",\n', "test/fixtures/app.json"),
        (f'var key = []byte("{fake("{{gen:password:32}}", "go")}")\n', "aes_test.go"),
        (f'\taesKey: "{B64}",\n', "cfg.ts"),
        (f'final String knownGeneratedKey = "{fake("{{gen:hex:64}}", "java")}";\n', "KeyTest.java"),
        (f'  "issuer_key": "{fake("{{gen:base32:56}}", "b32")}",\n', "README.md"),
    ],
)
def test_high_entropy_value_under_key_name(engine: Engine, text: str, path: str) -> None:
    assert secrets(engine, text, path), text


@pytest.mark.parametrize(
    "text",
    [
        f'cache_key = "{KEY32}"\n',  # data-structure keys
        f'sortKey: "{KEY32}",\n',
        f'SigningPubKey: "{fake("{{gen:HEX:66}}", "pub")}",\n',  # public keys
        f'publicKey = "{B64}"\n',
        f"if key == '{KEY32}':\n",  # a comparison against a dict key
        "key = 'ec2_block_device_mapping2'\n",  # names made of words
        '{key:"addImageFromBase64",value:function(o){}}\n',
        "'Key': '311.data/part-00001.parquet',\n",  # object keys that are file names
        '<converter:Offset1Converter x:Key="ProgressBarOffset1Converter" />\n',
        f'key = "{fake("{{gen:lower:24}}", "letters")}"\n',  # letters only: no digit, not a key
        'monkey = "a1b2c3d4e5f6g7h8i9j0k1l2"\n',
    ],
)
def test_names_and_data_keys_under_key_are_not_reported(engine: Engine, text: str) -> None:
    assert not secrets(engine, text, "src/app.js"), text


# -- 3. setters --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        f'rememberMe.setCipherKey(Base64.decode("{B64}"));\n',
        f'login(new LoginModel().setToken("{fake("{{gen:" + CONSONANTS + ":4}}-{{gen:" + CONSONANTS + ":4}}", "t")}"));\n',
        f'config.setJwtSecretKey("{MIXED}");\n',
        f"client.set_api_key('{HEX32}')\n",
    ],
)
def test_secret_setter_with_literal(engine: Engine, text: str) -> None:
    assert secrets(engine, text, "src/Main.java"), text


@pytest.mark.parametrize(
    "text",
    [
        'client.setAccessToken(System.getenv("ACCESS_TOKEN"));\n',
        'lexer.setToken("newline");\n',
        f'req.setCsrfToken("{KEY32}");\n',
        f'map.setKey("{KEY32}");\n',
    ],
)
def test_setter_negatives(engine: Engine, text: str) -> None:
    assert not secrets(engine, text, "src/Main.java"), text


# -- 4. CLI flags inside quoted argument lists -------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        f'\t\t"--secret={LOWER10}",\n',
        f'\t\t"--client-secret={LOWER10}",\n',
        f'\t\t"--cookie-secret={MIXED}",\n',
        f'cmd = "server --db-password {MIXED}"\n',
        f"--jwt-secret {fake('{{gen:lower:8}}_{{gen:lower:6}}', 'jwt')} \\\n",
    ],
)
def test_cli_secret_flags_in_quoted_args(engine: Engine, text: str) -> None:
    assert secrets(engine, text, "cmd/main_test.go"), text


@pytest.mark.parametrize(
    "text",
    [
        "'[DEPRECATED] Use --jwt-secret instead. This option will be removed.',\n",
        '"--client-secret should set providers.google.client-secret")\n',
        'flags = ["--token-file=/run/token", "--secret=$SECRET"]\n',
    ],
)
def test_cli_flags_named_in_prose_are_not_reported(engine: Engine, text: str) -> None:
    assert not secrets(engine, text, "src/cli.ts"), text


# -- 5. Basic credentials built in code, getenv defaults ---------------------------------------
def test_base64_of_user_password_literal(engine: Engine) -> None:
    pw = fake("{{gen:" + CONSONANTS + ":6}}", "basic")
    assert pw in secrets(engine, f"auth_ = base64.b64encode(b'deploy:{pw}').decode('ascii')\n")
    assert pw in secrets(engine, f"const h = 'Basic ' + btoa('ci:{pw}');\n", "app.js")
    assert not secrets(engine, "auth = base64.b64encode(b'user:password')\n")
    assert not secrets(engine, "auth = btoa(`${user}:${pass}`)\n", "app.js")


def test_getenv_default_for_secret_variable(engine: Engine) -> None:
    assert MIXED in secrets(engine, f'secret := getenv("JWT_SECRET", "{MIXED}")\n', "main.go")
    assert SHORT in secrets(engine, f'PG_PASSWORD = os.getenv("PGPASSWORD", "{SHORT}")\n')
    assert not secrets(engine, 'PG_PASSWORD = os.getenv("PGPASSWORD", "")\n')
    assert not secrets(engine, f'URL = os.getenv("TOKEN_URL", "{MIXED}")\n')


# -- filters -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "wordy"),
    [
        ("unicorn", True), ("helloworld", True), ("long-and-random-string", True), ("testac", True),
        ("def456", True), ("082630", True), (fake("{{gen:digit:10}}", "d"), False), ("Minus10Converter", True), ("build_123.zip", True),
        (LOWER10, False), (SHORT, False), (MIXED, False), (KEY32, False), (HEX32, False), (B64, False),
    ],
)
def test_word_like(value: str, wordy: bool) -> None:
    assert allow.is_word_like(value, allow.Context(line="", path=None)) is wordy


def test_data_key_and_strong_value() -> None:
    ctx = allow.Context(line="", path=None, key="cacheKey")
    assert allow.is_data_key(KEY32, ctx)
    assert not allow.is_data_key(KEY32, allow.Context(line="", path=None, key="aesKey"))
    assert allow.is_strong_value(KEY32, ctx) and not allow.is_strong_value(SHORT, ctx)


def test_secret_quoted_drops_word_values_but_keeps_long_numbers(engine: Engine) -> None:
    # `client_secret: 'nightworld'` in an OAuth test reads as words: a stand-in, not a secret
    assert not secrets(engine, "  client_secret: 'nightworld',\n", "test/oauth.js")
    assert not secrets(engine, "  'sharedkey': 'functionvalue',\n", "tests/test_cfg.py")
    number = fake("{{gen:digit:10}}", "num")
    assert number in secrets(engine, f"config.oauth_token_secret = '{number}'\n", "config.rb")
    token = fake("{{gen:" + CONSONANTS + ":3}}{{gen:digit:3}}.{{gen:" + CONSONANTS + ":6}}", "dot")
    assert token in secrets(engine, f'private final String tokenValue = "{token}";\n', "A.java")


# -- third round: comments and heredocs in code, user+password pairs, key suffixes ---------------
@pytest.mark.parametrize(
    ("text", "path"),
    [
        (f"// Example users file:\n//  - username: deploy\n//    password: {SHORT}\n", "auth/users.go"),
        (f"//   password: {LOWER10[:5]}_{LOWER10[5:]}\n", "doc.go"),  # snake-ish sample
        (f"# passphrase = {MIXED}\n", "tools/setup.py"),
        (f"doc := heredoc.Doc(`\n\t\tprotocol=https\n\t\tpassword={MIXED.upper()}\n\t`)\n", "cred_test.go"),
        (f" * password={MIXED}\n", "Client.java"),
    ],
)
def test_password_in_code_comment_or_heredoc(engine: Engine, text: str, path: str) -> None:
    assert secrets(engine, text, path), text


@pytest.mark.parametrize(
    "text",
    [
        "    password = db_password\n",
        "    password = self.password\n",
        "    password: Incomplete\n",  # a type stub
        "    password: Optional[str] = None\n",
        "Pass = Lexer.PASS\n",
        "visit_Pass = visit_children\n",
        "    password=pwd\n",
        "# password: the account's password\n",
    ],
)
def test_code_statements_are_not_password_comments(engine: Engine, text: str) -> None:
    assert not secrets(engine, text, "src/app.py"), text


def test_code_statement_filter() -> None:
    def ctx(line: str) -> allow.Context:
        return allow.Context(line=line, path="a.py")
    assert allow.is_code_statement("x", ctx("    password = value"))
    assert not allow.is_code_statement("x", ctx("  // password: value"))
    assert not allow.is_code_statement("x", ctx("\tpassword=value"))


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (f"[*] Host: 10.1.2.3 Domain: CORP User: svc-backup Password: {MIXED}!\n", "notes.md"),
        (f"Setup done.  User name: admin  User password: {MIXED}\n", "INSTALL.md"),
        (f"    {{user: admin, password: {LOWER10}}}\n", "README.md"),
        (f"'redis://10.0.0.7:6379/0?username=app&password={SHORT}'\n", "config.php"),
        (f'"text": "redir=1&login=tester&password={SHORT[:4]}",\n', "session.har"),
    ],
)
def test_user_and_password_side_by_side(engine: Engine, text: str, path: str) -> None:
    assert secrets(engine, text, path), text


@pytest.mark.parametrize(
    "text",
    [
        "def login(self, username: Optional[str], password: Optional[HiddenText]) -> None:\n",
        "connect(user=user, password=password)\n",
        "connect(user=args.user, password=args.password)\n",
        "username: admin password: admin\n",
    ],
)
def test_user_password_pair_negatives(engine: Engine, text: str) -> None:
    assert not secrets(engine, text, "src/app.py"), text


def test_user_password_pair_stops_at_an_escaped_newline(engine: Engine) -> None:
    assert secrets(engine, f'msg = "user: app password: {MIXED}\\n"\n', "src/app.py") == {MIXED}


def test_password_config_trailing_comment_and_prefixes(engine: Engine) -> None:
    assert secrets(engine, f"password: {MIXED}!        # for the admin UI\n", "docs/setup.md")
    assert secrets(engine, f"#!  password: {LOWER10}\n", "conf/app.yaml")
    assert secrets(engine, f"$password: {MIXED}\n", "docs/setup.md")


def test_password_inline_after_colon(engine: Engine) -> None:
    assert MIXED in secrets(engine, f"/tmp/out:2:password={MIXED}\n", "docs/grep.rst")


def test_value_with_brackets_is_not_a_call(engine: Engine) -> None:
    value = fake("{{gen:lower:6}}(!){{gen:alpha:6}}", "paren")
    assert value in secrets(engine, f"  password: '{value}',\n", "test/fixtures.js")
    ctx = allow.Context(line="", path=None)
    assert allow.is_function_call("os.getenv(", ctx)
    assert allow.is_function_call("get_password()", ctx)
    assert not allow.is_function_call(value, ctx)


def test_secret_key_with_short_suffix_and_oauth_verifier(engine: Engine) -> None:
    number = fake("{{gen:digit:32}}", "num32")
    assert number in secrets(engine, f'tokenB := "{number}"\n', "a_test.go")
    assert KEY32 in secrets(engine, f'API_KEY_2 = "{KEY32}"\n', "settings.py")
    verifier = fake("{{gen:alpha:20}}", "verifier")
    assert verifier in secrets(engine, f"params: {{ oauth_verifier: '{verifier}' }}\n", "spec/login_spec.rb")
    assert not secrets(engine, f'tokenizers = "{KEY32}"\n', "a.py")  # a suffix, not a secret word


def test_url_token_with_pipe(engine: Engine) -> None:
    token = fake("{{gen:digit:15}}|{{gen:alnum:20}}-{{gen:digit:9}}", "pipe")
    assert token in secrets(engine, f'body = "access_token={token}"\n', "Test.java")
