"""Generic detection by context: one test per miss class and per false-positive class fixed for
issue 3 (CredData accuracy). Every fixture is written here with generated fake values; none is
copied from CredData."""

from __future__ import annotations

import pytest

from sprawlguard.detect.engine import Engine, EngineOptions
from sprawlguard.detect.rules import load_rules
from sprawlguard.model import Chunk, Confidence, Location
from tests.conftest import fake


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_rules(), EngineOptions(min_confidence=Confidence.MEDIUM))


def found(engine: Engine, text: str, path: str = "src/app.py") -> list[tuple[str, str]]:
    chunk = Chunk(text=text, location=Location("file", "file:" + path, path))
    return [(m.rule_id, m.secret) for m in engine.scan(chunk)]


def secrets(engine: Engine, text: str, path: str = "src/app.py") -> set[str]:
    return {s for _, s in found(engine, text, path)}


PW = fake("{{gen:lower:6}}{{gen:digit:3}}{{gen:lower:3}}", "pw")
TOKEN = fake("{{gen:alnum:32}}", "token")
HEX40 = fake("{{gen:hex:40}}", "hex")
UUID = fake("{{fake:uuid}}", "uuid")


# -- miss classes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "path"),
    [
        (f'\tpassword:           "{PW}",\n', "client_test.go"),  # aligned struct fields
        (f"  config.password     = '{PW}'\n", "setup.rb"),
        (f'PASS = "{PW}"\n', "settings.py"),  # short key names
        (f"pw = '{PW}'\n", "cli.py"),
        (f"assert cfg['password'] == '{PW}'\n", "test_cfg.py"),  # comparisons and subscripts
        (f"if ($password === '{PW}') {{\n", "auth.php"),
        (f'user.password_confirmation = "{PW}"\n', "user_spec.rb"),  # a confirmation is the password
        (f"password: '{fake('{{gen:lower:5}}-{{gen:lower:7}}', 'kebab')}'\n", "fixtures.js"),  # hyphenated
        (f'password = "{fake("{{gen:lower:6}}{{gen:upper:1}}{{gen:lower:6}}", "camel")}"\n', "a.py"),  # camel-ish
        (f'fieldX(password : "{PW}", balance : 12)\n', "src/lang/Builder.groovy"),  # lang/ is code here
    ],
)
def test_password_in_code_is_found(engine: Engine, text: str, path: str) -> None:
    assert secrets(engine, text, path), text


@pytest.mark.parametrize(
    "text",
    [
        f"export DNS_PROVIDER_API_KEY={TOKEN} \\\n",
        f"# SMTP_PASSWORD={PW}\n",
        f'docker run -e APP_SECRET_TOKEN="{TOKEN}" app\n',
    ],
)
def test_env_style_assignment_in_docs_and_scripts(engine: Engine, text: str) -> None:
    assert TOKEN in secrets(engine, text, "docs/providers.md") or PW in secrets(engine, text, "docs/providers.md")


@pytest.mark.parametrize(
    "text",
    [
        f'  "access_token": "{HEX40}",\n',  # a 40-hex token under a token key is a credential
        f'  api_token: "{UUID}",\n',  # a UUID under a secret-named key too
        f"config.consumer_key = '{TOKEN}'\n",
        f'SECRET_KEY = "{fake("{{gen:password:50}}", "django")}"\n',
        f'\tClientToken:  "{TOKEN}",\n',
    ],
)
def test_secret_in_code_is_found(engine: Engine, text: str) -> None:
    assert secrets(engine, text), text


def test_url_query_and_form_credentials(engine: Engine) -> None:
    text = f'body = "oauth_token={TOKEN}&oauth_token_secret={HEX40}"\n'
    assert {TOKEN, HEX40} <= secrets(engine, text)
    assert TOKEN in secrets(engine, f"curl 'https://api.example.com/v1?format=json&api_key={TOKEN}'\n", "run.sh")


def test_sql_and_openssl_passwords(engine: Engine) -> None:
    assert PW in secrets(engine, f"CREATE ROLE app WITH LOGIN PASSWORD '{PW}';\n", "init.sql")
    assert PW in secrets(engine, f"openssl genrsa -aes256 -passout pass:{PW} -out ca.key 4096\n", "Dockerfile")


def test_basic_credentials_without_authorization_prefix(engine: Engine) -> None:
    basic = fake("{{fake:basic_auth}}", "basic")
    assert basic in secrets(engine, f"expect(req.headers['authorization']).toBe('Basic {basic}')\n", "a.test.js")


def test_jwk_private_member_needs_kty_nearby(engine: Engine) -> None:
    d = fake("{{gen:base64url:43}}", "jwk")
    jwk = f"const key = {{\n  kty: 'EC',\n  crv: 'P-256',\n  d: '{d}',\n}}\n"
    assert d in secrets(engine, jwk, "keys.mjs")
    assert d not in secrets(engine, f"const cfg = {{ d: '{d}' }}\n", "keys.mjs")


def test_nats_nkey_seed(engine: Engine) -> None:
    seed = fake("SU{{gen:[A-Z2-7]:56}}", "nkey")
    public = fake("U{{gen:[A-Z2-7]:55}}", "nkey-pub")
    assert [r for r, s in found(engine, f"seed: {seed}\nnkey: {public}\n", "nats.conf")] == ["sg.nats.nkey_seed"]


def test_oauth_header_with_hmac_sha1_method_is_not_an_integrity_hash(engine: Engine) -> None:
    key = fake("{{gen:alnum:16}}", "oauth")
    line = f'"value": "OAuth oauth_consumer_key=\\"{key}\\",oauth_signature_method=\\"HMAC-SHA1\\""\n'
    assert key in secrets(engine, line, "collection.json")


# -- false-positive classes ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "if (typeof options.password === 'function') {\n",  # typeof comparisons
        "li.className = result ? \"pass\" : \"fail\";\n",  # ternaries on a word 'pass'
        "let MD5_PASSWORD = 'a1b2c3d4e5f6a7b8';\n",  # digests named by the key
        'passwordModifyOID = "1.3.6.1.4.1.4203.1.11.1"\n',  # OIDs and versions
        "password: '\u4f60\u7684\u5bc6\u7801',\n",  # a prompt in another script
        "CREATE LOGIN %%USER%% WITH PASSWORD = '%%PWD%%'\n",  # template placeholders
        "password: ((sample/users/test))\n",  # Concourse placeholders
        "{pem: fs.readFileSync('./client.pem'), passphrase: 'passphrase1'},\n",  # value names the key
        f'"password": "{{AQAAABAAAAAQ{fake("{{gen:base64:40}}", "jenkins")}=}}",\n',  # Jenkins-encrypted
        f'<assemblyIdentity name="Lib" publicKeyToken="{fake("{{gen:hex:16}}", "pkt")}" culture="neutral" />\n',
        f'STRIPE_PUBLIC_KEY="{TOKEN}"\n',  # public keys are not secrets
        'serviceAccountKey = "service_account"\n',  # snake_case names as values
        'cookie_key: "request_logger"\n',
        '"encryption_key": "public_key",\n',
        'authID: "myAuthID",\n',  # ids, not secrets
        f'aws_access_key_id = "{UUID}"\n',
        f'"id": "{UUID}",\n',  # bare UUIDs stay negatives
        f'request_id = "{UUID}"\n',
        'APIAuth = "https://auth.example.com/login"\n',  # URLs without credentials
        "key.write_private_key_file(filename, password=phrase)\n",  # kwargs with variables
        f'sha_token = "{HEX40}"\n',  # digests under hash-named keys
        f"commit = '{HEX40}'\n",
    ],
)
def test_false_positive_classes_stay_quiet(engine: Engine, text: str) -> None:
    assert found(engine, text, "src/app.ts") == []


def test_translations_and_lock_files_stay_quiet(engine: Engine) -> None:
    assert found(engine, '{"password": "Passwort", "token": "Jeton"}\n', "locales/de.json") == []
    assert found(engine, f'  resolved "https://r.example/p.tgz#{HEX40}"\n', "yarn.lock") == []


@pytest.mark.parametrize(
    "text",
    [
        f'"NextToken": "{TOKEN}"\n',  # pagination, idempotency and CSRF tokens are not credentials
        f'"PolicyUpdateToken": "1:{fake("{{gen:base64:22}}", "put")}==",\n',
        f'csrf_token = "{TOKEN}"\n',
        '"SelectiveAuth": "Disabled"\n',
    ],
)
def test_non_credential_tokens_stay_quiet(engine: Engine, text: str) -> None:
    assert found(engine, text, "service-2.json") == []
