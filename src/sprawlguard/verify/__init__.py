"""Liveness verification: ask each secret's issuer, safely, whether the secret still works.

The only package that opens network connections to issuers (`net.Http`). One module per
mechanism: `http_check` (the rules' declarative `verify:` blocks), `aws` (SigV4 STS), `gcp`
(service-account certificates), `jwt` (offline analysis, allow-listed signatures); `runner`
applies the safety policy, caps, retries, budget, circuit breaker and cache.
"""

from sprawlguard.verify.runner import Verifier, VerifyOptions

__all__ = ["Verifier", "VerifyOptions"]
