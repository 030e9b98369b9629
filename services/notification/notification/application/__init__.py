"""The use cases: one per event consumed (events.py), per staff request (broadcasts.py), and sending
(delivery.py). Each runs in a NotificationUnitOfWork; none sees SQL, HTTP or a connection."""
