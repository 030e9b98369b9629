"""The use cases: one per event consumed (families.py, affiliates.py, sharing notices.py), per staff
request (broadcasts.py), a family's rights and the purge (privacy.py), and sending
(delivery.py). Each runs in a NotificationUnitOfWork; none sees SQL, HTTP or a connection."""
