"""False-positive filters and allow rules: small predicates, each saying why a match is dropped.

A filter gets the candidate value and its context and returns True when the match should be
dropped. `UNIVERSAL` filters run on every rule; a rule opts into more with `filters: [...]`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sprawlguard.detect.entropy import is_repeated, is_sequential, shannon


class _Lazy:
    """A pattern compiled on first use: every scan imports this module, a pre-commit hook run
    usually needs few of its patterns, and compiling them all took ~7 ms of the hook's start-up."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return getattr(self._compiled, name)


def _lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return cast("re.Pattern[str]", _Lazy(pattern, flags))


@dataclass(frozen=True, slots=True)
class Context:
    """What a filter may look at besides the value: the line, the path, the key name if any, and
    the rest of the line after the value (at most 64 characters)."""

    line: str
    path: str | None
    key: str | None = None
    after: str = ""


_PLACEHOLDER_WORDS = _lazy(
    r"(?i)(?:x{4,}|\*{3,}|\.{3}|#{4,}|example|changeme|change[_-]?me|placeholder|your[_-]?(?:own[_-]?)?"
    r"(?:api[_-]?)?(?:key|token|secret|password|pass)|insert[_-]?(?:your|key|token)|redacted|"
    r"replace[_-]?(?:me|with)|put[_-]?your|todo|fixme|(?:^|[^A-Za-z0-9])<[^>]{1,60}>|\$\{[^}]{0,80}\}|\{\{[^}]{0,80}\}\}|"
    r"%\([a-z_]+\)s|%s\b|\$\([^)]{0,80}\)|%%\w{1,60}%%|\(\([^)]{1,80}\)\))"
)


# A value cut short by template syntax: `glpat-{{gen:...}}`, `key_<your key>`, `{fake(...)}` in code.
_TEMPLATE_INSIDE = _lazy(r"<[a-z][a-z_-]{2,}$|\{[A-Za-z_]\w*\(|\}\}")
_TEMPLATE_AFTER = _lazy(r"\{|\$\(|%\(|<[a-z][a-z _-]*>")  # what follows the value (Context.after)


def is_placeholder(value: str, ctx: Context) -> bool:
    """Template placeholders and obviously fake values: <KEY>, ${VAR}, {{x}}, xxxx, changeme, and
    values that template syntax cuts short (`glpat-{{gen:alnum:20}}` gives `glpat-`)."""
    return bool(_PLACEHOLDER_WORDS.search(value) or _TEMPLATE_INSIDE.search(value)
                or _TEMPLATE_AFTER.match(ctx.after))


_PREFIX = _lazy(r"^[A-Za-z0-9]{1,12}[_-]")


def _runs(value: str, steps: tuple[int, ...] = (1, -1)) -> list[int]:
    """Lengths of the maximal runs of letters or digits each one of `steps` from the previous
    (`abcd`, `4321`; `ab12` is two runs of 2)."""
    runs, run = [], 1
    for a, b in zip(value, value[1:], strict=False):
        if ord(b) - ord(a) in steps and a.isalnum() and b.isalnum():
            run += 1
        else:
            runs.append(run)
            run = 1
    runs.append(run)
    return runs


def is_trivial(value: str, ctx: Context) -> bool:
    """Repeated units or sequential runs (aaaaaa, abcabc, 123456, ghp_abcdefghij...), also after a prefix."""
    core = value.strip("\"'")
    body = _PREFIX.sub("", core, count=1)
    if any(is_repeated(v) or is_sequential(v) for v in {core, body} if v):
        return True
    return (len(core) >= 12 and max(_runs(core)) >= 10) or _mostly_runs(core)


def _mostly_runs(value: str) -> bool:
    """At least 80% of the value sits in ascending/descending runs of 4+ (12345abcde)."""
    return len(value) >= 8 and sum(r for r in _runs(value) if r >= 4) >= 0.8 * len(value)


_VARREF = _lazy(
    r"^(?:\$[A-Za-z_{(]|%[A-Za-z_]+%$|@[A-Za-z_]+@?$|process\.env|os\.environ|os\.getenv|getenv|"
    r"env\(|ENV\[|System\.getenv|secrets\.|vars\.|self\.|this\.|params\.|config\.|settings\.|args\.)"
)


def is_variable_reference(value: str, ctx: Context) -> bool:
    """Environment or variable references rather than values ($VAR, %VAR%, os.environ[...])."""
    return bool(_VARREF.search(value))


_CALL = _lazy(r"^[A-Za-z_][\w.]*\(")


def is_function_call(value: str, ctx: Context) -> bool:
    """A call such as get_password() or os.getenv('X') standing where a value would be (whole,
    or cut short at a quote: `os.getenv(`). A value that goes on after a closing parenthesis
    (`ab12(!)Cd9`) is a password with brackets in it, not a call."""
    if not _CALL.match(value):
        return False
    tail = value.rstrip(";,")
    return tail.endswith((")", "(")) or ")" not in tail


# camelCase, PascalCase and CONST_CASE words; lower snake_case is left alone: it is as often a
# real (weak) password as a name, and names are caught by `value_names_key` and the key filters
_IDENT = _lazy(r"^(?:[a-z]+(?:[A-Z][a-z]+)+[A-Z]{0,4}|[a-z]{2,}[A-Z]{2,4}|[A-Z][a-z]+(?:[A-Z][a-z]+)+[A-Z]{0,4}|"
                    r"[A-Z]+(?:_[A-Z]+)+)$")


def is_identifier(value: str, ctx: Context) -> bool:
    """camelCase, PascalCase or CONST_CASE identifiers with no digits (githubID, myAuthID too)."""
    return bool(_IDENT.match(value))


_SNAKE_WORDS = _lazy(r"^[a-z]+(?:_[a-z]+)+$")


def is_snake_words(value: str, ctx: Context) -> bool:
    """Lower-case words joined by underscores (service_account, request_logger): a name, not an API
    key or token. Not used on password rules, where such values are often real weak passwords."""
    return bool(_SNAKE_WORDS.match(value))


_UUID = _lazy(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


_SECRET_KEY_NAME = _lazy(r"(?i)secret|token|passw|passwd|pwd|api[_.-]?key|apikey|credential|auth|(?:^|[_.-])key$|[a-z]Key$")
_ID_KEY_NAME = _lazy(r"(?i)(?:id|ids|uuid|guid|name|kid)$")


def is_uuid(value: str, ctx: Context) -> bool:
    """A UUID, dropped unless the key name says it is a secret (`api_token = "<uuid>"` is a
    credential; `id`, `request_id`, `key_id`, `credentialsId` and bare UUIDs are identifiers)."""
    if not _UUID.match(value):
        return False
    key = (ctx.key or "").strip("\"' ")
    return not key or bool(_ID_KEY_NAME.search(key)) or not _SECRET_KEY_NAME.search(key)


_LOCKFILES = (
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
    "Pipfile.lock", "Cargo.lock", "go.sum", "Gemfile.lock", "composer.lock", "packages.lock.json",
    "gradle.lockfile", "mix.lock", "pubspec.lock", "flake.lock", "uv.lock", "*.sum", "*.sha256",
    "*.sha512", "*.md5", "SHA256SUMS", "*.lock",
)


def is_lockfile(value: str, ctx: Context) -> bool:
    """The path is a dependency lock or checksum file, whose hashes are not credentials."""
    if not ctx.path:
        return False
    name = ctx.path.replace("\\", "/").rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, pat) for pat in _LOCKFILES)


_SRI = _lazy(r"(?i)\bintegrity\b|\bsha(?:1|256|384|512)[-:]\s?[A-Za-z0-9+/]{20,}")


def is_integrity_hash(value: str, ctx: Context) -> bool:
    """Subresource-integrity and package hashes (integrity="sha512-...", sha256:...); a line that
    merely names an algorithm (oauth_signature_method="HMAC-SHA1") is not enough."""
    return bool(_SRI.search(ctx.line)) or value.startswith(("sha256-", "sha384-", "sha512-", "sha1-"))


_L10N = _lazy(r"(?i)(?:^|/)(?:locales?|i18n|l10n|lang|languages|translations?)/(?!.*\.(?:java|groovy|kt|scala|go|py|c|cc|cpp|cs|swift|j|m|rs)$)|\.(?:po|pot|strings|xliff|xlf|resx)$|(?:^|/)messages_[a-z]{2}(?:_[A-Z]{2})?\.properties$")


def is_localization(value: str, ctx: Context) -> bool:
    """Translation files, where 'password: Passwort' is a label, not a credential (source code
    in a `lang/` folder, e.g. a language implementation, is not a translation)."""
    return bool(ctx.path and _L10N.search(ctx.path.replace("\\", "/")))


_HEXHASH = _lazy(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9A-F]{40}|[0-9A-F]{64})$")


_HASH_CONTEXT = _lazy(r"(?i)sha\d*|md5|hash|digest|checksum|commit|revision|\brev\b|etag|fingerprint|integrity")


def is_hex_hash(value: str, ctx: Context) -> bool:
    """An MD5/SHA-1/SHA-256-length hex string that is most likely a digest: no key name, or a key
    or line that talks about hashes, commits or checksums. Under a key such as `api_token` the
    same shape is a credential (many issuers mint 32- or 40-hex tokens)."""
    if not _HEXHASH.match(value):
        return False
    key = (ctx.key or "").strip("\"' ")
    return not key or bool(_HASH_CONTEXT.search(key) or _HASH_CONTEXT.search(ctx.line))


def is_not_basic_auth(value: str, ctx: Context) -> bool:
    """A 'Basic' credential that does not decode to printable user:password."""
    import base64
    import binascii

    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return True
    user, sep, password = raw.partition(":")
    return not (sep and user and password and raw.isprintable())


_NOT_SECRET_KEY = _lazy(
    r"(?i)(?:label|hint|placeholder|text|title|message|msg|prompt|field|input|button|error|length|"
    r"policy|regex|pattern|format|rule|reset|url|uri|path|file|dir|name|type|mode|enabled|required|"
    r"expiry|expires|expiration|ttl|timeout|header|param|column|class|style|icon|endpoint|count|"
    r"size|version|prefix|suffix|validator|strength|min|max|hash|hashed|digest|encryption|encrypted|"
    r"method|filter|change|warning|reset|salt|algorithm|algo|hint|realm|scheme|"
    r"user|username|email|store|kind)s?$|(?<![Ss]ecret)(?<![Ss]ecret[_.-])(?:ids?|IDs?)$|"
    r"(?:next|page|pagination|continuation|sync|idempotency|update|cancel|csrf|xsrf)[_.-]?token$"
)
_NOT_SECRET_ANYWHERE = _lazy(r"(?i)public|publishable|md5|sha\d|hashed|hash[_.-]|crypted|digest")


def is_not_secret_key(value: str, ctx: Context) -> bool:
    """The key names something about a secret, not the secret (password_label, token_url, key_id),
    or a value that is public or a digest (publicKeyToken, stripe_public_key, md5_password)."""
    return bool(ctx.key) and _names_not_secret(ctx.key)


@lru_cache(maxsize=4096)
def _names_not_secret(raw_key: str) -> bool:
    # cached: the same few key names (key, token, apiKey) come back on every file, and this
    # alternation of ~80 words is the dearest regex of a generic candidate's filters
    key = raw_key.strip("\"' ")
    return bool(_NOT_SECRET_KEY.search(key) or _NOT_SECRET_ANYWHERE.search(key))


_KEY_WORDS = _lazy(r"(?i)pass(?:wor)?d|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|app[_-]?id|"
                        r"credential|username|^my[_-]|(?:^|[_-])pass(?:$|[_-])|[_-]key(?:[_-]|$)|^key[_-]")


def is_value_naming_key(value: str, ctx: Context) -> bool:
    """The value repeats the key's idea (password = "Password", token = "MY_TOKEN"): a label."""
    if ctx.key and value.rstrip(",;").lower() == ctx.key.lower().strip("\"' "):
        return True
    return bool(_KEY_WORDS.search(value))


_PATH_LIKE = _lazy(r"^(?:~|\.{1,2})?(?:/[A-Za-z_.{}:-]+)+/?$|^[A-Za-z_-]+(?:/[A-Za-z_.-]+)+/?$|"
                        r"^[a-z][a-z0-9+.-]{1,15}://[^@\s]+$")


_PERMISSION = _lazy(r"^[a-z0-9-]{2,30}:[A-Z*][A-Za-z*]{2,80}$")


def is_path_like(value: str, ctx: Context) -> bool:
    """A file path or URL path made of words (/accounts/password/reset/), a URL without
    credentials, or a permission name (iam:CreateAccessKey), not random characters."""
    return bool(_PATH_LIKE.match(value) or _PERMISSION.match(value))


_DUMMY = _lazy(
    r"(?i)^(?:test(?:ing)?|pass|password|passw0rd|passwd|pwd|admin|administrator|root|toor|postgres|"
    r"mysql|oracle|secret|guest|demo|dummy|fake|sample|example|user|username|login|foo|bar|baz|"
    r"foobar|qwerty|letmein|hunter2?|wrong|invalid|incorrect|bad|my[-_]?pass(?:word)?|default|"
    r"abc|abcd|abcdef|abc123|welcome|master|super|superuser|sa|s3cr3t|p@ssw0rd|p@ssword|"
    r"pa55word|none|nothing|empty|blank|temp|tmp|xyz|asdf|asdfgh|zxcvbn|changeit|opensesame|passw|"
    r"new[-_]?pass(?:word)?|old[-_]?pass(?:word)?|my[-_]?pwd|valid|another|other|same|different|"
    r"fail(?:ed|ure)?|error|short|bearer|basic|oauth2?|disabled|enabled|true|false|null|required|optional|"
    r"value|passwort|kennwort|contrase(?:n|ñ)a|senha|wachtwoord|parola|mot[-_ ]?de[-_ ]?passe)"
    r"[-_.]?\d{0,4}[!.]?$"
)
_TYPE_NAME = _lazy(r"(?i)^(?:string|str|int|integer|number|bool|boolean|any|object|char|bytes|text|"
                        r"function|symbol|bigint|undefined)"
                        r"(?:\[\])?[!?;,]?$")


_NOT_A_VALUE = _lazy(
    r"(?i)^(?:\$(?:1|2[aby]?|5|6|y|argon2i?d?)\$|(?:sha1|sha256|md5|pbkdf2_sha256|bcrypt|argon2)\$|"
    r"\{[A-Z0-9-]{2,12}\}|\[(?:filtered|omitted|redacted|hidden|masked|removed)\]|"
    r"(?:required|nullable|confirmed|min:|max:)[|:]|\{AQAAAB|\d+(?:\.\d+){2,}$)"
)


def is_dummy_password(value: str, ctx: Context) -> bool:
    """Well-known dummy or default values (test, admin, postgres, password123), type names,
    stored password hashes ($6$..., sha1$...), Jenkins-encrypted values ({AQAAAB...}), OIDs and
    version numbers, log masks ([FILTERED]), validation rules, and values with no ASCII letter or
    digit (a prompt in another script, not a credential)."""
    return bool(_DUMMY.match(value) or _DUMMY.match(value.rstrip(")]},;"))  # `NAME_TOKEN=value)` in prose
                or _TYPE_NAME.match(value) or _NOT_A_VALUE.match(value)
                or not re.search(r"[A-Za-z0-9]", value))


def is_same_as_username(value: str, ctx: Context) -> bool:
    """The value repeats the user name on the same line (user=zabbix password=zabbix)."""
    v = re.escape(value)
    return bool(re.search(r"(?i)(?:user(?:name)?|login|-u)[\s\"':=]{0,4}" + v + r"(?![\w@.-])", ctx.line))


_KEBAB_WORDS = _lazy(r"^[a-z]+(?:[.-][a-z]+)+$")


def is_dotted_words(value: str, ctx: Context) -> bool:
    """Lowercase words joined by dots or hyphens (keyword.operator, long-and-random-string)."""
    return bool(_KEBAB_WORDS.match(value))


_DOTTED_NAME = _lazy(r"^[a-z]+(?:\.[a-z]+)+$")


def is_dotted_name(value: str, ctx: Context) -> bool:
    """Lowercase words joined by dots (keyword.operator, app.settings): a name. Hyphenated words
    are left alone: as a password value they are as often a passphrase as a name."""
    return bool(_DOTTED_NAME.match(value))


# Letter pairs common in English text (each at least 0.05% of the pairs in a few hundred kB of
# licence prose, plus a handful of everyday ones the licences lack). Random letters hit them about
# a third of the time; words and test names made of words almost always do.
_BIGRAM_LIST = (
    "ab ac ad ag ah ai ak al am an ap ar as at au av ay ba be bi bj bl bo br bu by ca cc ce ch ci ck "
    "cl co cr ct cu da dd de di do ds du ea ec ed ee ef eg eh ei el em en ep eq er es et ev ew ex ey "
    "fa fe ff fi fo fr ft fu fy ga ge gh gi gn gr gs ha he hi ho ht ia ib ic id ie if ig il im in io "
    "ip ir is it iv je ke ki ks la ld le li ll lo ls lt lu ly ma mb me mi mm mo mp ms mu na nc nd ne "
    "nf ng ni nk nl no ns nt nu nv ny oa ob oc od of og oi ok ol om on oo op or os ot ou ov ow pa pe "
    "pi pl po pp pr pt pu py qu ra rc rd re rg ri rk rl rm rn ro rp rr rs rt ry sa sc se sh si sk sm "
    "so sp ss st su sw ta te th ti tl to tr ts tt tu tw ty ua ub uc ud ue ui ul um un ur us ut va ve "
    "vi wa we wh wi wn wo wr ws xc xe xt ye yi yo yr ys ze"
)
_ENGLISH_BIGRAMS = frozenset(_BIGRAM_LIST.split())
_FILE_NAME = _lazy(r"(?:^|[./])[A-Za-z0-9_-]{1,80}\.([a-z][a-z0-9]{1,7})$")  # build_123.zip, x.parquet
_WORDY_TEST = _lazy(r"(?i)test|dummy|fake|sample|demo|mock|foobar|example")


def _mostly_common(pairs: list[str]) -> bool:
    return bool(pairs) and sum(p in _ENGLISH_BIGRAMS for p in pairs) >= 0.75 * len(pairs)


def _reads_as_words(letters: str) -> bool:
    return _mostly_common([letters[i:i + 2] for i in range(len(letters) - 1)])


def is_word_like(value: str, ctx: Context) -> bool:
    """For rules that accept short, low-entropy values under a secret-named key (`token: "..."`):
    a value that is not random characters but a word or words (unicorn, helloworld, newline), a
    test name (testac, mock-token, sectest), a short run of sequences (def456), or no letter at all
    (a number is an id, a count or a code). Random lower-case letters rarely read as words: their
    letter pairs are mostly rare in English."""
    if not re.search(r"[A-Za-z]", value):
        return len(value) < 8  # 6-7 digits: a code, a port, an id; longer runs can be real tokens
    file_name = _FILE_NAME.search(value)
    if file_name and (len(file_name.group(1)) <= 4 or _reads_as_words(file_name.group(1))):
        return True
    if len(value) <= 16 and _WORDY_TEST.search(value):
        return True
    if re.fullmatch(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*", value):
        parts = re.split(r"[-_.]", value.lower())
        if all(len(p) < 3 or _reads_as_words(p) for p in parts):
            return True
    elif not re.fullmatch(r"[0-9a-fA-F]+", value):  # words with digits: Add1Converter, ec2_block_device
        words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", value) if len(w) >= 3]
        pairs = [w[i:i + 2] for w in words for i in range(len(w) - 1)]
        if len(pairs) >= 6 and sum(map(len, words)) >= 0.7 * len(value) and _mostly_common(pairs):
            return True
    return len(value) <= 10 and sum(r for r in _runs(value, (1,)) if r >= 3) >= len(value) / 2


_DATA_KEY = _lazy(
    r"(?i)(?:cache|primary|foreign|sort|partition|range|row|hot|shortcut|lookup|map|dict|index|unique|"
    r"idempotency|dedup|cursor|i18n|translation|message|storage|object|bucket|s3|file|asset|blob|group|"
    r"route|routing|query|column|field|attr|attribute|prop|property|node|item|entry|list|event|state|"
    r"store|setting|meta|template|component|host|known|lock|queue|topic|stream|search|js|css|react|"
    r"table|record|column|schema|map|redis|memcache|session[_.-]?id|foreign|composite|natural|"
    r"surrogate|local|remote|track|sound|music|piano|keyboard|pub|hash)[_.-]?key$|^(?:Key|key|KEY)s$"
)


def is_data_key(value: str, ctx: Context) -> bool:
    """The key names a data-structure or lookup key, not key material (cache_key, primaryKey,
    sortKey, partition_key, i18nKey, objectKey)."""
    return bool(ctx.key) and _names_data_key(ctx.key)


@lru_cache(maxsize=4096)
def _names_data_key(raw_key: str) -> bool:
    return bool(_DATA_KEY.search(raw_key.strip("\"' ")))


def is_strong_value(value: str, ctx: Context) -> bool:
    """8+ characters at 2.8+ bits each: what `sg.generic.secret_quoted` reports under the same
    keys; a rule for the short and low-entropy rest leaves those to it (one finding per place)."""
    return len(value) >= 8 and shannon(value) >= 2.8


def is_flag_prose(value: str, ctx: Context) -> bool:
    """A `--secret word` option named in prose (`use --client-secret instead.`, `--token should be
    set`): the value follows the flag after a space and reads as an English word."""
    if not ctx.key:
        return False
    spaced = re.search(r"--" + re.escape(ctx.key) + r"[ \t]+['\"]?" + re.escape(value), ctx.line)
    return bool(spaced) and is_word_like(value.rstrip(".,;:"), ctx)


_COMMENT_LEAD = _lazy(r"^[ \t]*(?://|#|\*|--)")
_BARE_KEY_VALUE = _lazy(r"^[ \t]*[A-Za-z0-9_-]+=\S+[ \t]*$")


def is_code_statement(value: str, ctx: Context) -> bool:
    """For rules that read unquoted `key: value` lines in source files: the line is code (an
    assignment `password = pw`, a type annotation `password: Incomplete`), not a comment and not
    a bare `key=value` line of an embedded config or heredoc."""
    return not (_COMMENT_LEAD.match(ctx.line) or _BARE_KEY_VALUE.match(ctx.line))


Filter = Callable[[str, Context], bool]

FILTERS: dict[str, Filter] = {
    "placeholder": is_placeholder,
    "trivial": is_trivial,
    "variable_reference": is_variable_reference,
    "function_call": is_function_call,
    "identifier": is_identifier,
    "snake_words": is_snake_words,
    "uuid": is_uuid,
    "lockfile": is_lockfile,
    "integrity_hash": is_integrity_hash,
    "localization": is_localization,
    "hex_hash": is_hex_hash,
    "basic_auth": is_not_basic_auth,
    "not_secret_key": is_not_secret_key,
    "value_names_key": is_value_naming_key,
    "path_like": is_path_like,
    "dummy_password": is_dummy_password,
    "same_as_username": is_same_as_username,
    "dotted_words": is_dotted_words,
    "dotted_name": is_dotted_name,
    "word_like": is_word_like,
    "data_key": is_data_key,
    "strong_value": is_strong_value,
    "flag_prose": is_flag_prose,
    "code_statement": is_code_statement,
}
UNIVERSAL: tuple[str, ...] = ("placeholder", "trivial")


def dropped_by(value: str, ctx: Context, names: Sequence[str]) -> str | None:
    """The name of the first filter among `names` that drops `value`, or None."""
    for name in names:
        if FILTERS[name](value, ctx):
            return name
    return None


_INLINE_ALLOW = _lazy(r"sprawlguard:allow|gitleaks:allow|pragma:\s*allowlist[ -]secret|trufflehog:ignore|kingfisher:ignore")
_NEXTLINE_ALLOW = _lazy(r"pragma:\s*allowlist[ -]nextline[ -]secret|sprawlguard:allow-next-line")


def is_inline_allowed(line: str, previous_line: str = "") -> bool:
    """An inline allow comment on the line (or a next-line allow on the line before)."""
    return bool(_INLINE_ALLOW.search(line) or (previous_line and _NEXTLINE_ALLOW.search(previous_line)))


def is_path_allowed(path: str | None, globs: Sequence[str]) -> bool:
    """The path matches one of the allowlisted globs (fnmatch, `**` crosses folders)."""
    if not path or not globs:
        return False
    p = path.replace("\\", "/")
    return any(fnmatch.fnmatch(p, g) or fnmatch.fnmatch(p.rsplit("/", 1)[-1], g) for g in globs)
