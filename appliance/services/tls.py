"""The console's TLS certificate: the same self-signed ECDSA certificate code as the SIP transport's.

It lives in :mod:`appliance.certificates` (a leaf: provisioning writes the SIP certificate
too); this name stays for the services and tests that import it.
"""

from appliance.certificates import CERT_NAME, KEY_NAME, TlsFiles, describe, ensure, generate, paths

__all__ = ["CERT_NAME", "KEY_NAME", "TlsFiles", "describe", "ensure", "generate", "paths"]
