"""The affiliation domain: organisations, accounts and logins, the convention, reimbursement.

Plain Python, no I/O: every rule takes the time it needs as an argument and says no with
`carnet_runtime.Refusal` (its HTTP status is in `affiliation/refusals.py`).
"""
