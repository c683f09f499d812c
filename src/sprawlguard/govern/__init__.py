"""Governance: fingerprints, classification into governed secrets, risk and remediation."""
