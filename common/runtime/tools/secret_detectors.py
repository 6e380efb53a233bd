"""The secrets scan: detect-secrets with the detectors below, which .secrets.baseline names, and its hook entry.

detect-secrets loads this file from the `file://` path the baseline gives for each detector, relative to the
repository root (where pre-commit runs its hooks): `python tools/secret_detectors.py --baseline .secrets.baseline
FILES` is the hook. Every detector also reads notebook JSON, where a printed output is an escaped string:
values stop at a backslash or a quote, so `\\n` and `\\"` never join a secret.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector


class TeamsWebhookDetector(RegexBasedDetector):
    """Microsoft Teams incoming webhooks: Office 365 connectors and Workflows (Power Automate) triggers."""

    secret_type = "Microsoft Teams webhook"  # pragma: allowlist secret
    denylist = (
        # The hex part is the key; the GUIDs around it are not (and would make detect-secrets drop the match).
        re.compile(r"\.office\.com/webhook(?:b2)?/[0-9a-fA-F-]{36}@[0-9a-fA-F-]{36}/IncomingWebhook/([0-9a-fA-F]{32})"),
        re.compile(
            r"(?:logic\.azure\.com|api\.powerplatform\.com)(?::\d+)?/[\w/.-]*workflows/[0-9a-fA-F]{32}/triggers/"
            r"[^\s\"'\\]*?[?&]sig=([\w%+/=-]{16,})"
        ),
    )


class SlackWorkflowWebhookDetector(RegexBasedDetector):
    """Slack workflow webhooks (detect-secrets' SlackDetector knows only /services/ incoming webhooks)."""

    secret_type = "Slack workflow webhook"  # pragma: allowlist secret
    denylist = (re.compile(r"hooks\.slack\.com/(?:triggers|workflows)/(T[A-Z0-9]+/[A-Za-z0-9/]{16,})"),)


class AzureSignedUrlDetector(RegexBasedDetector):
    """Azure shared access signatures: SAS URLs and connection strings, Logic Apps and Functions trigger URLs."""

    secret_type = "Azure shared access signature"  # pragma: allowlist secret
    denylist = (re.compile(r"[?&;]sig=([\w%+/=-]{16,})"),)


class AzureConnectionStringKeyDetector(RegexBasedDetector):
    """Keys inside Azure connection strings: storage, Cosmos DB, Service Bus, Event Hubs, IoT Hub, SignalR."""

    secret_type = "Azure connection string key"  # pragma: allowlist secret
    denylist = (re.compile(r"(?i)(?:^|[;\"'\s])(?:AccountKey|SharedAccessKey|AccessKey)=([A-Za-z0-9+/]{20,}={0,2})"),)


class AzureClientSecretDetector(RegexBasedDetector):
    """Microsoft Entra ID (Azure AD) application client secrets, recognisable by their `Q~` marker."""

    secret_type = "Azure AD client secret"  # pragma: allowlist secret
    denylist = (re.compile(r"(?<![\w~.-])([A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![\w~.-])"),)


class TokenFormatDetector(RegexBasedDetector):
    """Tokens with a documented prefix that detect-secrets 1.5 does not know."""

    secret_type = "Service token"  # pragma: allowlist secret
    denylist = (
        re.compile(r"\b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b"),  # GitHub fine-grained personal access token
        re.compile(r"\b(hf_[A-Za-z]{34})\b"),  # Hugging Face
        re.compile(r"\b(dapi[0-9a-f]{32}(?:-\d)?)\b"),  # Databricks personal access token (MLflow on Databricks)
        re.compile(r"-----BEGIN ENCRYPTED PRIVATE[ ]KEY-----"),  # PKCS #8, passphrase or not: still a private key
    )


class UrlCredentialsDetector(RegexBasedDetector):
    """A password in a URL's userinfo, with every character RFC 3986 allows there (`! $ & ' ( ) * + , ; =` too)."""

    secret_type = "Password in URL"  # pragma: allowlist secret
    denylist = (re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[\w.~%!$&'()*+,;=-]*:([\w.~%!$&'()*+,;=:-]+)@[\w\[]"),)


class BearerTokenDetector(RegexBasedDetector):
    """Credentials in an HTTP Authorization header (curl examples, request code, logged headers)."""

    secret_type = "Authorization header"  # pragma: allowlist secret
    denylist = (
        re.compile(r"(?i)\bBearer\s+([A-Za-z0-9._~+/-]{16,}=*)"),
        re.compile(r"(?i)\bAuthorization\\?[\"']?\s*[:=]\s*\\?[\"']?\s*Basic\s+([A-Za-z0-9+/]{12,}={0,2})"),
    )


# Names that hold a credential: token, secret, password... with any prefix or suffix (MLFLOW_TRACKING_TOKEN).
SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:token|secret|passw(?:or)?d|pwd|passphrase|credentials?|"
    r"(?:api|access|account|auth|client|master|private|secret|shared_?access|signing|storage|subscription)[_-]?key|"
    r"apikey|conn(?:ection)?_?str(?:ing)?)[A-Za-z0-9_.-]*"
)
ASSIGNMENT = re.compile(
    rf"(?i)(?<![A-Za-z0-9_./-])(?P<name>{SECRET_NAME})(?:\\?[\"'\]])?\s*(?::=|=>|==|=|:)\s*"
    r"(?P<quote>\\?[\"'`])?(?P<value>[^\s\"'`\\,;(){}\[\]<>]{8,})"
)
# Values that name a secret rather than hold one.
REFERENCE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+"  # a variable's attribute
    r"|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"  # an environment variable's name
    r"|[a-z0-9_.~-]*(?:/[a-z0-9_.-]+)+/?"  # a lowercase path
    r"|(?:sha1|sha256|sha512|md5):[0-9a-fA-F]+"  # a digest that says what it is (promotion.yaml)
)
# Letters that read as words: lowercase, Capitalised or UPPER words, joined directly or by `-`, `_`, `.`.
WORDS = re.compile(r"(?:(?:[A-Z]?[a-z]{2,}|[A-Z]{2,}(?![a-z]))[-_.]?)+")
PLACEHOLDERS = ("xxxx", "****", "changeme", "change_me", "placeholder", "redacted", "example", "your_", "your-")
CODE_SUFFIXES = (".py", ".pyi")
VARIABLE = re.compile(r"[a-z_][a-z0-9]*(?:_[a-z0-9]+)+")  # snake_case: in a notebook's code cells, a variable
LITERALS = {"true", "false", "null", "none", "required", "optional"}


def looks_like_a_secret(value: str) -> bool:
    """A credential-shaped value: not a reference, a placeholder or words, and varied enough."""
    lowered = value.lower()
    # `$VAR`, `%(name)s`, `@secret`, `****` (braces and `<token>` end a value before it starts).
    if value[0] in "$%@*" or lowered in LITERALS or REFERENCE.fullmatch(value):
        return False
    if any(word in lowered for word in PLACEHOLDERS):
        return False
    if not any(c.isalpha() for c in value):
        return False
    if all(c.isalpha() or c in "-_." for c in value) and WORDS.fullmatch(value):
        return False  # words, slugs and identifiers: production, azure-cli, DefaultAzureCredential
    return entropy(value) >= 2.5


def entropy(value: str) -> float:
    """Shannon entropy of a string, in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


class SecretAssignmentDetector(BasePlugin):
    """`token: …`, `PASSWORD=…`, `api_key = "…"`: a credential-shaped value given to a credential's name.

    Code needs the value quoted (unquoted, it is an expression); YAML, `.env`, Markdown and notebook outputs do not.
    """

    secret_type = "Secret assignment"  # pragma: allowlist secret

    def analyze_line(
        self, filename: str, line: str, line_number: int = 0, context: Any = None, **kwargs: Any
    ) -> set[PotentialSecret]:
        """The assigned secrets of one line."""
        kind = "code" if filename.endswith(CODE_SUFFIXES) else "notebook" if filename.endswith(".ipynb") else "text"
        return {
            PotentialSecret(type=self.secret_type, filename=filename, secret=value, line_number=line_number)
            for value in self.values(line, kind)
        }

    def analyze_string(self, string: str) -> Iterator[str]:
        """The assigned secrets of a string that is not code."""
        yield from self.values(string, "text")

    @staticmethod
    def values(line: str, kind: str) -> Iterable[str]:
        """Values assigned to a credential's name on a line of code, of a notebook or of other text."""
        for match in ASSIGNMENT.finditer(line):
            value, end, quoted = match["value"], match.end("value"), bool(match["quote"])
            if not quoted and (kind == "code" or line[end : end + 1] in ("(", "[")):
                continue  # an expression: a variable, or a call or subscript that fetches the secret
            if not quoted and kind == "notebook" and VARIABLE.fullmatch(value):
                continue  # a variable in a notebook's code cell
            if looks_like_a_secret(value):
                yield value


NOTEBOOK_MEDIA = re.compile(r'^\s*"(?:image/[\w.+-]+|application/pdf)": "')


def is_notebook_media_line(filename: str, line: str) -> bool:
    """A base64 figure in a notebook's outputs: high entropy by nature, never a secret (nbstripout drops it anyway)."""
    return filename.endswith(".ipynb") and bool(NOTEBOOK_MEDIA.match(line))


def main(argv: list[str] | None = None) -> int:
    """detect-secrets-hook, except that a detector the baseline names but cannot load fails the hook.

    detect-secrets itself logs a missing plugin file and exits 0 having scanned nothing: a scan that cannot run
    must not pass.
    """
    from detect_secrets import pre_commit_hook
    from detect_secrets.settings import get_plugins

    try:
        pre_commit_hook.parse_args(argv)  # loads the baseline: its plugins and filters
        get_plugins()
    except Exception as error:  # any failure to load means no scan
        print(f"The secrets scan cannot run: {error!r}. Run it from the repository root; see .secrets.baseline.")
        return 1
    return pre_commit_hook.main(argv)


if __name__ == "__main__":
    sys.exit(main())
