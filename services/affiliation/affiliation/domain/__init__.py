"""The affiliation domain: organisations, accounts, the convention, reimbursement.

Plain Python, no I/O: every rule takes the time it needs as an argument.
"""
