"""A fake Microsoft identity platform (Entra ID): OpenID discovery, the token endpoint for client
credentials, device code, refresh tokens and authorization codes, the device-code endpoint, and the
authorize endpoint of a web sign-in, over real HTTPS.

A web sign-in (OpenID Connect authorization code with PKCE): the authorize endpoint accepts only a
redirect URI registered for the app (`register_redirect_uri`; else AADSTS50011, shown on its own
page as Entra does), signs in whoever `browser_user` names (nobody: the answer is `access_denied`)
and redirects back with `code` and `state`. The token endpoint redeems a code once (AADSTS54005 the
second time), for the redirect URI it was issued to (AADSTS500112), with the verifier whose S256
hash is the challenge (AADSTS501481), and returns an id_token carrying the request's nonce.

Point msal at it with `MS_AUTHORITY_HOST=idp.url`. Tokens are opaque random strings the fake Graph
checks here (`token_info`). A test approves a device login (`approve`), revokes a user's refresh
tokens (`revoke`), expires every access token (`expire_access_tokens`) or the app's client secret
(`expire_client_secret`), withdraws or grants the app's consent to a permission (`withdraw`, `grant`;
as in Entra ID, a token keeps the roles it was issued with), or makes the token endpoint
answer as Entra ID does when something is wrong (`fail_token`: the AADSTS error bodies below, or a 5xx
with Retry-After, on which msal raises `MsalServiceError`).

Error bodies are Entra ID's: `error`, `error_description` starting with the AADSTS code and followed by
trace lines, `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`. msal holds an
identical request back itself after an error: for `Retry-After` seconds when the answer has one, else
60 s after a 400 (in real time, whatever the bot's clock says).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from tests.fakes.https_fake import HttpsFake, Request, Response, error

TENANT = "tenant-0001"
CLIENT_ID = "client-0001"
CLIENT_SECRET = "fake-client-secret-value"
APP_PERMISSIONS = frozenset(
    {
        "Calendars.ReadWrite",
        "Mail.Send",
        "Mail.ReadBasic.All",
        "Mail.Read",
        "TeamsActivity.Send",
        "User.Read.All",
        "OnlineMeetings.ReadWrite.All",
        "OnlineMeetingArtifact.Read.All",
        "OnlineMeetingRecording.Read.All",
    }
)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CODE_GRANT = "authorization_code"
CODE_LIFETIME = 600  # Entra's authorization codes live about ten minutes


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    name: str


@dataclass
class TokenInfo:
    kind: str  # "app" or "user"
    audience: str
    expires_at: float
    user_id: str | None = None
    permissions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TokenError:
    """An error the token endpoint answers with (Entra ID's codes)."""

    error: str
    aadsts: int
    text: str
    status: int = 400


# What Entra ID answers, by AADSTS code (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
TEMPORARILY_UNAVAILABLE = TokenError(
    "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."
)
EXPIRED_GRANT = TokenError(
    "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity."
)
REVOKED_GRANT = TokenError(
    "invalid_grant",
    50173,
    "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
)
MFA_REQUIRED = TokenError(
    "interaction_required",
    50076,
    "Due to a configuration change made by your administrator, or because you moved to a new location, "
    "you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
)
SECRET_EXPIRED = (
    f"AADSTS7000222: The provided client secret keys for app '{CLIENT_ID}' are expired. "
    "Visit the Azure portal to create new keys for your app."
)
SERVER_ERROR = TokenError("server_error", 90100, "An unexpected error occurred.", status=503)


@dataclass
class Failure:
    """Injected: the next `times` token requests (of `grant`, or any) get `error`."""

    error: TokenError
    grant: str | None
    times: int
    retry_after: int | None


@dataclass
class DeviceCode:
    user_code: str
    expires_at: float
    user_id: str | None = None


@dataclass
class AuthCode:
    """An authorization code, as issued to one sign-in."""

    user_id: str
    redirect_uri: str
    challenge: str | None
    challenge_method: str | None
    nonce: str | None
    expires_at: float
    redeemed: bool = False


def _error_body(error: str, aadsts: int, text: str) -> dict[str, object]:
    """An error as Entra ID's token endpoint writes it."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return {
        "error": error,
        "error_description": f"AADSTS{aadsts}: {text}\r\nTrace ID: {trace}\r\n"
        f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
        "error_codes": [aadsts],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
    }


def _verifier_matches(verifier: str, challenge: str, method: str | None) -> bool:
    """RFC 7636: S256 is BASE64URL(SHA256(verifier)) without padding; `plain` is the verifier."""
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=") == challenge
    return method in (None, "plain") and verifier == challenge


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class FakeIdentityProvider(HttpsFake):
    name = "fake-idp"

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, Account] = {}
        self.app_permissions = set(APP_PERMISSIONS)
        self.delegated_permissions = {
            "ChannelMessage.Send",
            "ChannelMessage.Read.All",
            "Chat.ReadWrite",
            "User.Read",
        }
        self.token_lifetime = 3600
        self.auto_approve: str | None = None  # a user id that approves every device login at once
        self.tokens: dict[str, TokenInfo] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token → user id
        self.device_codes: dict[str, DeviceCode] = {}
        self.grants: Counter[str] = Counter()  # grant type → successful token answers
        self.refused: Counter[str] = Counter()
        self.issued: list[str] = []  # every token ever handed out, revoked ones too
        self.failures: list[Failure] = []
        self.secret_expired = False
        self.redirect_uris: set[str] = set()  # the app registration's Web redirect URIs
        self.browser_user: str | None = None  # who signs in at the authorize page
        self.auth_codes: dict[str, AuthCode] = {}
        self._lock = threading.Lock()

    # --- test helpers -------------------------------------------------------------------------

    def add_account(self, user_id: str, username: str, name: str) -> Account:
        account = Account(user_id, username, name)
        self.accounts[user_id] = account
        return account

    def register_redirect_uri(self, uri: str) -> None:
        """An admin adds a Web platform redirect URI to the app registration."""
        self.redirect_uris.add(uri)

    def approve(self, user_code: str, user_id: str) -> None:
        with self._lock:
            for code in self.device_codes.values():
                if code.user_code == user_code:
                    code.user_id = user_id

    def fail_token(
        self, error: TokenError, *, grant: str | None = None, times: int = 1, retry_after: int | None = None
    ) -> None:
        """The next `times` token requests (of `grant`, or any grant) are answered with `error`."""
        with self._lock:
            self.failures.append(Failure(error, grant, times, retry_after))

    def revoke(self, user_id: str) -> None:
        """The user's sessions are revoked: refresh tokens fail, access tokens are refused."""
        with self._lock:
            self.refresh_tokens = {t: u for t, u in self.refresh_tokens.items() if u != user_id}
            self.tokens = {t: i for t, i in self.tokens.items() if i.user_id != user_id}

    def expire_access_tokens(self) -> None:
        with self._lock:
            for info in self.tokens.values():
                info.expires_at = 0

    def age_access_tokens(self, seconds: float) -> None:
        """Every access token issued so far is `seconds` closer to its expiry (time passed)."""
        with self._lock:
            for info in self.tokens.values():
                info.expires_at -= seconds

    def expire_client_secret(self) -> None:
        """The app's client secret passed its end date: client-credentials requests are refused
        (tokens already issued work until they expire)."""
        self.secret_expired = True

    def withdraw(self, *permissions: str) -> None:
        """An admin removes the app's consent to application `permissions` (new tokens lack them)."""
        with self._lock:
            self.app_permissions -= set(permissions)

    def grant(self, *permissions: str) -> None:
        """An admin grants consent to application `permissions` again (in new tokens)."""
        with self._lock:
            self.app_permissions |= set(permissions)

    def token_info(self, token: str | None) -> TokenInfo | None:
        with self._lock:
            info = self.tokens.get(token or "")
        return info if info is not None and info.expires_at > time.time() else None

    def secrets_issued(self) -> list[str]:
        """Every token and secret this fake handed out or knows: none may appear in a log."""
        with self._lock:
            return [CLIENT_SECRET, *self.issued]

    # --- the endpoints ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        base = f"/{TENANT}"
        if request.method == "GET" and request.path == f"{base}/v2.0/.well-known/openid-configuration":
            return Response(200, self._openid())
        if request.method == "GET" and request.path == f"{base}/oauth2/v2.0/authorize":
            return self._authorize(request.query)
        form = dict(parse_qsl(request.body.decode()))
        if request.method == "POST" and request.path == f"{base}/oauth2/v2.0/devicecode":
            return self._device_code(form)
        if request.method == "POST" and request.path == f"{base}/oauth2/v2.0/token":
            return self._token(form)
        return error(404, "not_found")

    def _openid(self) -> dict[str, object]:
        root = f"{self.url}/{TENANT}"
        return {
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "response_types_supported": ["code", "id_token"],
        }

    def _authorize(self, query: dict[str, str]) -> Response:
        """The sign-in page, already passed: back to the app with a code, or with the error."""
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID:
            return Response(400, "AADSTS700016: Application with identifier was not found in the directory.")
        if redirect_uri not in self.redirect_uris:
            return Response(
                400,
                "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs "
                "configured for the application.",
            )
        state = query.get("state", "")
        if query.get("response_type") != "code":
            return self._back(redirect_uri, error="unsupported_response_type", state=state)
        if "openid" not in query.get("scope", "").split():
            return self._back(redirect_uri, error="invalid_request", state=state)
        user_id = self.browser_user
        if user_id is None:
            return self._back(redirect_uri, error="access_denied", state=state)
        code = f"code-{secrets.token_urlsafe(24)}"
        with self._lock:
            self.auth_codes[code] = AuthCode(
                user_id,
                redirect_uri,
                query.get("code_challenge"),
                query.get("code_challenge_method"),
                query.get("nonce"),
                time.time() + CODE_LIFETIME,
            )
            self.issued.append(code)
        return self._back(redirect_uri, code=code, state=state)

    @staticmethod
    def _back(redirect_uri: str, **params: str) -> Response:
        separator = "&" if "?" in redirect_uri else "?"
        return Response(302, "", {"Location": f"{redirect_uri}{separator}{urlencode(params)}"})

    def _redeem(self, form: dict[str, str]) -> Response:
        if form.get("client_secret") != CLIENT_SECRET:
            return self._refuse(
                CODE_GRANT, "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        with self._lock:
            code = self.auth_codes.get(form.get("code", ""))
            first = code is not None and not code.redeemed
            if code is not None:
                code.redeemed = True
        if code is None:
            return self._refuse(CODE_GRANT, "invalid_grant", "AADSTS9002313: Invalid request.")
        if not first:
            return self._refuse(
                CODE_GRANT,
                "invalid_grant",
                "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new "
                "valid code or use an existing refresh token.",
            )
        if code.expires_at < time.time():
            return self._refuse(CODE_GRANT, EXPIRED_GRANT.error, f"AADSTS70008: {EXPIRED_GRANT.text}")
        if form.get("redirect_uri") != code.redirect_uri:
            return self._refuse(
                CODE_GRANT,
                "invalid_grant",
                "AADSTS500112: The reply address does not match the reply address provided when "
                "requesting Authorization code.",
            )
        if code.challenge is not None and not _verifier_matches(
            form.get("code_verifier", ""), code.challenge, code.challenge_method
        ):
            return self._refuse(
                CODE_GRANT,
                "invalid_grant",
                "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the "
                "authorization request.",
            )
        return self._issue_user(CODE_GRANT, code.user_id, form.get("scope", ""), nonce=code.nonce)

    def _device_code(self, form: dict[str, str]) -> Response:
        if form.get("client_id") != CLIENT_ID:
            return Response(
                400, {"error": "unauthorized_client", "error_description": "AADSTS700016: unknown app"}
            )
        device, user_code = secrets.token_urlsafe(24), secrets.token_hex(4).upper()
        code = DeviceCode(user_code, time.time() + 900, self.auto_approve)
        with self._lock:
            self.device_codes[device] = code
        return Response(
            200,
            {
                "device_code": device,
                "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": f"To sign in, open https://microsoft.com/devicelogin and enter {user_code}.",
            },
        )

    def _token(self, form: dict[str, str]) -> Response:
        grant = form.get("grant_type", "")
        injected = self._injected(grant)
        if injected is not None:
            return injected
        if form.get("client_id") != CLIENT_ID:
            return self._refuse(grant, "unauthorized_client", "AADSTS700016: unknown application")
        if grant == "client_credentials":
            if form.get("client_secret") != CLIENT_SECRET:
                return self._refuse(grant, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
            if self.secret_expired:
                return self._refuse(grant, "invalid_client", SECRET_EXPIRED)
            audience = form.get("scope", "").removesuffix("/.default")
            return self._issue(grant, TokenInfo("app", audience, 0, None, frozenset(self.app_permissions)))
        if grant == DEVICE_GRANT:
            with self._lock:
                code = self.device_codes.get(form.get("device_code", ""))
            if code is None or code.expires_at < time.time():
                return self._refuse(grant, "expired_token", "AADSTS70020: The provided value is expired.")
            if code.user_id is None:
                return Response(400, {"error": "authorization_pending", "error_description": "pending"})
            return self._issue_user(grant, code.user_id, form.get("scope", ""))
        if grant == CODE_GRANT:
            return self._redeem(form)
        if grant == "refresh_token":
            with self._lock:
                user_id = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user_id is None:
                return self._refuse(grant, REVOKED_GRANT.error, f"AADSTS50173: {REVOKED_GRANT.text}")
            return self._issue_user(grant, user_id, form.get("scope", ""))
        return self._refuse(grant, "unsupported_grant_type", "unsupported")

    def _injected(self, grant: str) -> Response | None:
        with self._lock:
            failure = next((f for f in self.failures if f.times > 0 and f.grant in (None, grant)), None)
            if failure is None:
                return None
            failure.times -= 1
        self.refused[grant] += 1
        found = failure.error
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        return Response(found.status, _error_body(found.error, found.aadsts, found.text), headers)

    def _refuse(self, grant: str, code: str, description: str) -> Response:
        self.refused[grant] += 1
        aadsts, _, text = description.removeprefix("AADSTS").partition(": ")
        return Response(400, _error_body(code, int(aadsts) if aadsts.isdigit() else 0, text or description))

    def _issue_user(self, grant: str, user_id: str, scope: str, nonce: str | None = None) -> Response:
        audiences = {s.rsplit("/", 1)[0] for s in scope.split() if s.startswith("https://")}
        info = TokenInfo("user", next(iter(audiences), ""), 0, user_id, frozenset(self.delegated_permissions))
        return self._issue(grant, info, scope, nonce)

    def _issue(self, grant: str, info: TokenInfo, scope: str = "", nonce: str | None = None) -> Response:
        token = f"at-{secrets.token_urlsafe(24)}"
        info.expires_at = time.time() + self.token_lifetime
        body: dict[str, object] = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }
        with self._lock:
            self.tokens[token] = info
            self.issued.append(token)
            if info.user_id is not None:
                refresh = f"rt-{secrets.token_urlsafe(24)}"
                self.refresh_tokens[refresh] = info.user_id
                self.issued.append(refresh)
                account = self.accounts[info.user_id]
                body.update(
                    refresh_token=refresh,
                    scope=scope,
                    client_info=_b64({"uid": info.user_id, "utid": TENANT}),
                    id_token=self._id_token(account, nonce),
                )
        self.grants[grant] += 1
        return Response(200, body)

    def _id_token(self, account: Account, nonce: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": f"{self.url}/{TENANT}/v2.0",
            "sub": account.id,
            "aud": CLIENT_ID,
            "exp": now + 3600,
            "iat": now,
            "oid": account.id,
            "tid": TENANT,
            "preferred_username": account.username,
            "name": account.name,
            **({"nonce": nonce} if nonce is not None else {}),
        }
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.sig"
