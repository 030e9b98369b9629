"""The enrolment's use cases, one module per aggregate: campaigns, schools, applications, rosters.

Each use case is an async function taking a unit of work (`EnrolmentUnitOfWork`, or an in-memory
one in unit tests), the caller where access depends on what is loaded, and a command; inside
`async with uow:` it loads through the repositories, lets the domain decide (which raises a
`Refusal`), stores, and publishes the events, written to the outbox in the same transaction. The
time of a request comes in as `now`, so that the use cases never read a clock.
"""
