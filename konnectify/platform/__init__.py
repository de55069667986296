"""Shared platform code the apps build on: API base classes, authentication,
permissions, error schema, pagination, API tokens, rate limiting, admin helpers.

It imports no app of ours (only ``stripe_connector``'s errors), so ``connections``
and ``workflows`` can use it without a cycle; ``konnectify`` itself is the project
wiring on top of everything.
"""
